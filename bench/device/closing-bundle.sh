#!/usr/bin/env bash
# Packs .device/ for the session's closing run (final-run.sh with gpu-tests): bundle.sh with the two fixture models the
# model/engine GPU tests read, then trimmed under the 64 MiB a call may carry (the working tree counts too): the console
# launcher (DeviceTestLauncher runs the tests), jqwik (no GPU test uses it), the tokenizer/server/tests test classes and
# the compile-time annotation jars go (~60 MB left). From the project root:
#   bench/device/closing-bundle.sh [--no-build]
# The tracked tree is ~12.6 MB, 3.7 MB of it without bench/results and bench/runs: move those two out of the checkout
# for the call if the bundle and the tree together pass 64 MiB (du -sm .device; the device tool says what it refused).
set -euo pipefail
[ -f pom.xml ] || { echo "closing-bundle.sh: run it from the project root" >&2; exit 2; }
"$(dirname "${BASH_SOURCE[0]}")/bundle.sh" "$@" --model tiny-llama3 --model tiny-baichuan2-13b
rm -f .device/junit-platform-console-standalone*.jar
( cd .device/lib && rm -f junit-platform-console-standalone* jqwik-* tokenizer-test-classes.jar server-test-classes.jar \
    tests-test-classes.jar checker-qual* error_prone* j2objc* annotations-3.0.1* apiguardian* derive4j* )
du -sm .device
