#!/usr/bin/env bash
# Session 20's closing call (run 77, lead): closing-call.sh on main after host20, norm20, dec20 merged (their switches off: measured
# slower or even, run 76): the rows (RUNS), the GPU tests of the session's new classes first then the rest with the time left
# (GPU_TESTS), under DEADLINE seconds. From the repo root on the GPU machine, with closing-bundle.sh's bundle:
#   RUNS="..." GPU_TESTS="..." DEADLINE=s bash bench/device/closing20-call.sh .device
set -u
D=${1:-.device}
here="$(dirname "$0")"
bash "$here/closing-call.sh" "$D"
grep -h "^== \|rc=" /tmp/final-out*/timeline.txt 2>/dev/null | tail -30
