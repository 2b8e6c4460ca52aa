#!/usr/bin/env bash
# Every GPU figure of wsbench in one run (at most about 8 minutes on one GPU); results in bench/results/gpu_*.json
# with the device name. On a machine without a GPU, `bash bench/gpu_check.sh --tiny` runs the same steps at toy
# sizes on the CPU (the test suite does, so that the script never rots).
#   bash bench/gpu_check.sh [--tiny] [RESULTS_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
TINY=""
if [ "${1:-}" = "--tiny" ]; then TINY="--tiny"; shift; fi
RESULTS="${1:-bench/results}"
PY="${PYTHON:-python}"
mkdir -p "$RESULTS"
DEVICE=$("$PY" -c "import torch; print('cuda' if torch.cuda.is_available() else 'cpu')")
echo "device: $DEVICE"
# 1. epoch time, evaluation throughput and the 10-minute CPU protocol on this device
timeout 300 "$PY" bench/bench_gpu.py --device "$DEVICE" $TINY --results-dir "$RESULTS"
# 2. super-net step / stand-alone step of the same architecture at the paper's NB201 setting
if [ -n "$TINY" ]; then
  STEP_ARGS=(--channels 4 --cells 1 --batch 8 --resolution 16 --archs 2 --reps 1)
else
  STEP_ARGS=(--channels 16 --cells 5 --batch 256 --resolution 32 --archs 30 --reps 3 --warmup 2)
fi
timeout 240 "$PY" bench/bench_supernet_step.py --space nb201 --device "$DEVICE" --channels-last "${STEP_ARGS[@]}" \
  --out "$RESULTS/gpu_supernet_step.json"
# 3. the peers side by side on this device (xautodl and NNI are benchmark-only extras, `make bench-extras`:
#    skipped when neither is installed)
if "$PY" bench/bench_peers.py --check; then
  if [ -n "$TINY" ]; then PEER_ARGS=(--tiny --archs 2 --reps 1); else PEER_ARGS=(--archs 8 --reps 3); fi
  timeout 180 "$PY" bench/bench_peers.py --device "$DEVICE" "${PEER_ARGS[@]}" --out "$RESULTS/gpu_peers.json"
else
  echo "no peer installed (make bench-extras): peers not timed"
fi
echo "wrote $RESULTS/gpu_*.json"
