#!/usr/bin/env bash
# Packs .device-mvn/arbor-mvn.tar.xz: everything `mvn -Pgpu` needs to run every @Tag("gpu") test through Surefire
# on a GPU machine that has no Java, no Maven, no network and no compiler -- a jlinked JRE, this machine's Maven
# distribution, an offline local repository holding exactly the plugins and dependencies the run resolves, the
# project's poms with the modules' target/classes and target/test-classes (built here, nothing compiles there),
# and the fixture models. Usage, from the project root:
#   bench/device/maven-gpu-bundle.sh [--no-build] [--model NAME ...]     (default: tiny-llama3; see step 5)
# Then carry [".device-mvn"] and run on the GPU machine (this line is also printed at the end):
#   tar xJf .device-mvn/arbor-mvn.tar.xz -C /tmp && cd /tmp/arbor-mvn/arbor && JAVA_HOME=/tmp/arbor-mvn/jre ../maven/bin/mvn -o -B -fae -Pgpu -Dmaven.repo.local=/tmp/arbor-mvn/repo -Darbor.fixtures=/tmp/arbor-mvn/fixtures -pl accel,kernels,models,tokenizer,engine validate jar:jar jar:test-jar surefire:test 2>&1 | tee $OUT/mvn-gpu.log; exit ${PIPESTATUS[0]}
#
# Why these goals instead of `mvn verify -Pgpu`: the lifecycle would run the compiler (the JRE has no jdk.compiler,
# and a stale check against the travelling sources could trigger it). `validate` runs the gpu profile's
# require-nvidia-device enforcer rule (no driver or device: the build fails before any test, naming the missing
# device file); `jar:jar jar:test-jar` package the carried classes so the reactor hands them to the next module
# (models' test-jar holds the Fixtures helper); `surefire:test` runs the tests, the profile selecting groups=gpu.
# On a machine with a JDK and Maven the documented `mvn -B verify -Pgpu` does the same with compilation.
# The repository is filled by running that same command here once, online, against an empty repository with the
# device check skipped (the tests then fail here for lack of a driver, which is expected and ignored).
set -euo pipefail
JDK=${JDK:-/usr/lib/jvm/temurin-25-jdk-amd64}
MAVEN_DIST=${MAVEN_DIST:-/usr/share/maven}
# Every module with @Tag("gpu") tests but server (its test classpath holds openai-java-core, 75 MB: GenerateGpuTest
# does not travel; run it through bench/device/bundle.sh and DeviceTestLauncher), and tokenizer, which engine needs.
MODULES=${MODULES:-accel,kernels,models,tokenizer,engine}
build=1; models=()
while [ $# -gt 0 ]; do
  case "$1" in
    --no-build) build=0 ;;
    --model) models+=("$2"); shift ;;
    *) echo "maven-gpu-bundle.sh: unknown option $1" >&2; exit 2 ;;
  esac; shift
done
[ -f pom.xml ] || { echo "maven-gpu-bundle.sh: run it from the project root" >&2; exit 2; }
[ ${#models[@]} -gt 0 ] || models=(tiny-llama3)
export JAVA_HOME=$JDK PATH=$JDK/bin:$PATH
DEVICE_CMD='tar xJf .device-mvn/arbor-mvn.tar.xz -C /tmp && cd /tmp/arbor-mvn/arbor && JAVA_HOME=/tmp/arbor-mvn/jre ../maven/bin/mvn -o -B -fae -Pgpu -Dmaven.repo.local=/tmp/arbor-mvn/repo -Darbor.fixtures=/tmp/arbor-mvn/fixtures -pl '"$MODULES"' validate jar:jar jar:test-jar surefire:test 2>&1 | tee $OUT/mvn-gpu.log; exit ${PIPESTATUS[0]}'

if [ $build -eq 1 ]; then
  echo "maven-gpu-bundle.sh: compiling $MODULES (main and test classes)"
  mvn -o -q -B test-compile -pl "$MODULES" >/dev/null
fi
stage=$(mktemp -d); [ -n "${KEEP_STAGE:-}" ] || trap 'rm -rf "$stage"' EXIT
b=$stage/arbor-mvn; mkdir -p "$b/arbor" "$b/repo" "$b/fixtures/models"

# 1. The project: every pom of the reactor (Maven reads them all, -pl only filters) and the compiled classes.
git ls-files '*pom.xml' | tar cf - -T - | tar xf - -C "$b/arbor"
for m in ${MODULES//,/ }; do
  for d in classes test-classes; do
    [ -d "$m/target/$d" ] || { echo "maven-gpu-bundle.sh: $m/target/$d is missing (build first, or drop --no-build)" >&2; exit 1; }
    mkdir -p "$b/arbor/$m/target"; cp -r "$m/target/$d" "$b/arbor/$m/target/"
  done
done

# 2. A jlinked JRE: ../shared/tools/device-jre's modules (Maven 3.8 and the forked Surefire JVM need no others:
#    not even java.xml or jdk.compiler, since nothing compiles), jdk.zipfs and jdk.incubator.vector among them.
JRE_MODULES=$(sed -n 's/^MODULES=\${MODULES:-\(.*\)}$/\1/p' ../shared/tools/device-jre 2>/dev/null || true)
JRE_MODULES=${JRE_MODULES:-java.base,java.logging,java.management,java.net.http,java.naming,java.sql,jdk.httpserver,jdk.incubator.vector,jdk.unsupported,jdk.crypto.ec,jdk.zipfs,jdk.management}
"$JDK/bin/jlink" --add-modules "$JRE_MODULES" --strip-debug --no-header-files --no-man-pages --output "$b/jre" 2>/dev/null

# 3. Maven itself: the distribution with its symlinks (Debian links lib/*.jar into /usr/share/java) resolved.
cp -rL "$MAVEN_DIST" "$b/maven"
"$b/jre/bin/java" -version >/dev/null 2>&1
JAVA_HOME=$b/jre "$b/maven/bin/mvn" -v >/dev/null 2>&1 || { echo "maven-gpu-bundle.sh: the bundled Maven does not start on the bundled JRE" >&2; exit 1; }

# 4. The offline repository: the device command, run here online once against the empty repository. The device
#    check is skipped and test failures ignored (no driver here); the run resolves every plugin, provider and
#    dependency the device run will. Afterwards drop what that run wrote into the project copy.
echo "maven-gpu-bundle.sh: filling the offline repository (online, about 3-4 minutes; the GPU tests fail here, no driver)"
(cd "$b/arbor" && JAVA_HOME=$b/jre ../maven/bin/mvn -B -Pgpu -Denforcer.skip=true -Dmaven.test.failure.ignore=true \
  -Dmaven.repo.local="$b/repo" -Darbor.fixtures=/nonexistent -pl "$MODULES" validate jar:jar jar:test-jar surefire:test) \
  > "$stage/fill.log" 2>&1 || { tail -40 "$stage/fill.log" >&2; echo "maven-gpu-bundle.sh: filling the repository failed" >&2; exit 1; }
for m in ${MODULES//,/ }; do
  find "$b/arbor/$m/target" -mindepth 1 -maxdepth 1 ! -name classes ! -name test-classes -exec rm -rf {} +
done
find "$b/repo" \( -name '*.lastUpdated' -o -name 'resolver-status.properties' \) -delete
# Native libraries for other platforms (the GPU machine is linux x86-64) are most of zstd-jni's size. DJL's
# tokenizers jar only has to exist (engine's test classpath holds it through the tokenizer module; no gpu test that
# travels tokenizes text: they read ids from reference.json), so it loses its native libraries, all 5 MB of them.
for j in $(find "$b/repo" -name 'tokenizers-*.jar' -o -name 'zstd-jni-*.jar'); do
  zip -q -d "$j" 'native/lib/*' 'darwin/*' 'win/*' 'freebsd/*' 'aix/*' \
    'linux/aarch64/*' 'linux/arm/*' 'linux/i386/*' 'linux/loongarch64/*' 'linux/mips64/*' 'linux/ppc64/*' 'linux/ppc64le/*' \
    'linux/riscv64/*' 'linux/s390x/*' >/dev/null 2>&1 || true
done
. "$(dirname "${BASH_SOURCE[0]}")/strip-jars.sh"
for j in $(find "$b/repo" -name 'fastutil*.jar'); do strip_fastutil "$j"; done

# 5. Fixtures: the models the gpu tests load, without tokenizer.json (the tests that travel read ids from
#    reference.json). All four do not fit beside the JRE, Maven and the repository (~45 MiB): the default is
#    tiny-llama3, EngineGpuTest's model; models' CudaBackendGpuTest, ReferenceLogitsGpuTest and
#    ReferenceInvarianceBf16GpuTest go over all four and fail for the ones left behind (reference.json not found:
#    50 of models' 148 gpu tests with the default). Another --model set in a second run covers the rest.
cp ../shared/fixtures/README.md "$b/fixtures/"
for m in "${models[@]}"; do
  mkdir -p "$b/fixtures/models/$m"
  for f in ../shared/fixtures/models/$m/*; do
    [ "$(basename "$f")" = tokenizer.json ] || cp "$f" "$b/fixtures/models/$m/"
  done
done

rm -rf .device-mvn; mkdir -p .device-mvn
tar cf - -C "$stage" arbor-mvn | xz -6 -T2 > .device-mvn/arbor-mvn.tar.xz
size=$(du -m .device-mvn/arbor-mvn.tar.xz | cut -f1)
echo "maven-gpu-bundle.sh: $size MiB in .device-mvn/arbor-mvn.tar.xz (at most 64 MiB travels, the checkout included); models: ${models[*]}"
[ "$size" -lt 62 ] || echo "maven-gpu-bundle.sh: WARNING: too large to travel with the checkout; pass fewer --model" >&2
missing=$(for m in tiny-llama2 tiny-llama3 tiny-qwen3 tiny-baichuan2-13b; do [[ " ${models[*]} " == *" $m "* ]] || echo -n "$m "; done)
[ -z "$missing" ] || echo "maven-gpu-bundle.sh: models' gpu tests fail there for the fixtures left behind: $missing"
echo "On the GPU machine (carry [\".device-mvn\"]):"
echo "  $DEVICE_CMD"
