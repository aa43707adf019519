#!/usr/bin/env bash
# Fills .device/ for bench/gemm-device.sh: the jlinked Java 25 runtime (../shared/tools/device-jre), the
# accel and kernels jars and test classes, JUnit and its console launcher (about 21 MiB).
# Package and copy-dependencies run in one Maven invocation: in a separate one (as device-bundle does)
# the reactor could not resolve arbor-accel for the kernels module here (2026-11-30).
# Usage, from the project root: bash bench/gemm-bundle.sh
set -euo pipefail
export JAVA_HOME=${JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}
[ -f .device/jre.tar.xz ] || ../shared/tools/device-jre
rm -rf .device/lib && mkdir -p .device/lib
mvn -q -B -o -pl accel,kernels package dependency:copy-dependencies -DskipTests -DincludeScope=test \
    -DexcludeGroupIds=dev.arbor -DoutputDirectory="$PWD/.device/lib"
for m in accel kernels; do
  cp "$m/target/arbor-$m-0.1.0-SNAPSHOT.jar" .device/lib/
  "$JAVA_HOME/bin/jar" cf ".device/lib/$m-test-classes.jar" -C "$m/target/test-classes" .
done
v=$(ls .device/lib | sed -n 's/^junit-platform-engine-\(.*\)\.jar$/\1/p' | head -1)
cp "$HOME/.m2/repository/org/junit/platform/junit-platform-console-standalone/$v/junit-platform-console-standalone-$v.jar" .device/
echo "gemm-bundle: $(du -sm .device | cut -f1) MiB in .device; on the GPU machine: bash bench/gemm-device.sh (carry .device)"
