#!/usr/bin/env bash
# Packs .device/ for a GPU-machine run, like ../shared/tools/device-bundle (whose groupId lookup picks up
# Maven 3.8's colour codes here and then copies no jar), plus a fixtures folder the tests find through
# -Darbor.fixtures=.device/fixtures. Usage, from the project root:
#   bench/device/bundle.sh [--no-build] [--lean] [--model NAME [--with-tokenizer]] ...
# --lean keeps the jars the accel, kernels, models and engine tests and `Main bench` need (no tokenizer, server-test or
# jqwik stacks). Fixtures travel as .device/fixtures.tar.xz; on the GPU machine:
#   tar xJf .device/fixtures.tar.xz -C /tmp   then   -Darbor.fixtures=/tmp/fixtures
# Fixture models without --with-tokenizer leave tokenizer.json behind (the models module's tests read ids
# from reference.json), which keeps all four models under the 64 MiB a run may carry.
set -euo pipefail
export JAVA_HOME=${JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}
build=1; lean=0; models=(); tokenizers=()
while [ $# -gt 0 ]; do
  case "$1" in
    --no-build) build=0 ;;
    --lean) lean=1 ;;
    --model) models+=("$2"); shift ;;
    --with-tokenizer) tokenizers+=("${models[-1]}") ;;
    *) echo "bundle.sh: unknown option $1" >&2; exit 2 ;;
  esac; shift
done
[ -f pom.xml ] || { echo "bundle.sh: run it from the project root" >&2; exit 2; }
[ -f .device/jre.tar.xz ] || ../shared/tools/device-jre
rm -rf .device/lib .device/fixtures .device/fixtures.tar.xz; mkdir -p .device/lib .device/fixtures/models
# the plugin named in full: arbor-bom does not inherit the pinned version, and a bare prefix resolves 2.8 (not served offline)
# package in the same invocation as copy-dependencies: the reactor resolves the sibling modules without an install
goals="package"
mvn -q -B -o $goals org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy-dependencies -DskipTests -DincludeScope=runtime -DexcludeGroupIds=dev.arbor -DoutputDirectory="$PWD/.device/lib" >/dev/null
mvn -q -B -o $goals org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy-dependencies -DskipTests -DincludeScope=test -DincludeGroupIds=org.junit.jupiter,org.junit.platform,net.jqwik,org.opentest4j,org.apiguardian -DoutputDirectory="$PWD/.device/lib" >/dev/null
. "$(dirname "${BASH_SOURCE[0]}")/strip-jars.sh"
for j in .device/lib/fastutil*.jar; do [ -e "$j" ] && strip_fastutil "$j"; done
for m in accel kernels models tokenizer engine server tests; do
  for j in $m/target/*.jar; do [ -e "$j" ] && case "$j" in *-sources.jar|*-javadoc.jar) ;; *) cp "$j" .device/lib/ ;; esac; done
  [ -d "$m/target/test-classes" ] && [ -n "$(ls -A "$m/target/test-classes")" ] && "$JAVA_HOME/bin/jar" cf ".device/lib/$m-test-classes.jar" -C "$m/target/test-classes" .
done
v=$(ls .device/lib | sed -n 's/^junit-platform-engine-\(.*\)\.jar$/\1/p' | head -1)
[ $lean -eq 1 ] && rm -f .device/junit-platform-console-standalone-*.jar || [ -f ".device/junit-platform-console-standalone-$v.jar" ] || cp ~/.m2/repository/org/junit/platform/junit-platform-console-standalone/$v/junit-platform-console-standalone-$v.jar .device/ 2>/dev/null \
  || mvn -q -B org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy -Dartifact="org.junit.platform:junit-platform-console-standalone:$v" -DoutputDirectory="$PWD/.device" >/dev/null
for j in .device/lib/*.jar; do
  if unzip -l "$j" 2>/dev/null | grep -E 'native/lib/(osx|win|linux-aarch64)' >/dev/null; then  # no -q: an early exit fails the pipe
    zip -q -d "$j" 'native/lib/osx*' 'native/lib/win*' 'native/lib/linux-aarch64*' >/dev/null || true
  fi
done
if [ $lean -eq 1 ]; then
  for j in .device/lib/*.jar; do
    case "$(basename "$j")" in
      arbor-accel*|arbor-kernels*|arbor-models*|arbor-engine*|arbor-tokenizer*|arbor-server*|picocli*|progressbar*|jline*|accel-test*|kernels-test*|models-test*|engine-test*|jackson-*|slf4j-*|fastutil*|junit-*|opentest4j*|apiguardian*) ;;
      *) rm -f "$j" ;;
    esac
  done
fi
cp ../shared/fixtures/README.md .device/fixtures/
for m in "${models[@]}"; do
  mkdir -p ".device/fixtures/models/$m"
  for f in ../shared/fixtures/models/$m/*; do
    case "$(basename "$f")" in tokenizer.json) [[ " ${tokenizers[*]} " == *" $m "* ]] && cp "$f" ".device/fixtures/models/$m/" ;; *) cp "$f" ".device/fixtures/models/$m/" ;; esac
  done
done
if [ ${#models[@]} -gt 0 ]; then tar cf - -C .device fixtures | xz -6 -T2 > .device/fixtures.tar.xz; fi
rm -rf .device/fixtures
echo "bundle.sh: $(du -sm .device | cut -f1) MiB in .device (at most 64 MiB travels, the checkout included)"
