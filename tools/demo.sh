#!/bin/sh
# make demo: the main job on the bundled tiny model. Until training lands, it runs the most
# complete end-to-end path that exists and says so.
BIN=${1:-build/simpletuner}
set -e
echo "demo: training is not in this build yet; running the most complete path that exists:"
echo "demo: the flow-match scheduler against the upstream golden vectors (tests/golden/flowmatch_scheduler)"
"$BIN" run-module tests/golden/flowmatch_scheduler --check
