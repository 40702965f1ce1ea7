#!/bin/bash
# pointgan on a CUDA GPU, in one go: the CUDA tests, the engine by batch size (bench_cuda.py),
# whole sweeps of 16,384 members on the GPU and on all CPU cores of the same machine
# (bench_sweep.py), their member-by-member agreement (compare_sweeps.py), and the commands that
# take a run on a CUDA run. Run from the project root; everything measured is printed, and the
# runs and sweeps land in $WORK (default /tmp/pointgan-gpu).
#   MEMBERS=16384 STEPS=1500 PROFILE=1 bash benchmarks/gpu_check.sh   (PROFILE: list the kernels)
#   ENGINE=0 bash benchmarks/gpu_check.sh                            (skip the engine table)
set -u
WORK=${WORK:-/tmp/pointgan-gpu}; MEMBERS=${MEMBERS:-16384}; STEPS=${STEPS:-1500}
mkdir -p "$WORK"
export MPLBACKEND=Agg PYTHONUNBUFFERED=1 PYTHONPATH=${PYTHONPATH:+$PYTHONPATH:}$PWD
P="python3 -m pointgan_cli"
section() { echo; echo "== $1 ($(date +%T))"; }
run() {  # run SECONDS CMD...: one section, bounded, its exit status and time printed
  local limit=$1; shift; local t0=$SECONDS
  timeout "$limit" "$@"; local rc=$?
  echo "   -> exit $rc in $((SECONDS - t0)) s"
}

section "machine"
nvidia-smi -L; echo "$(nproc) CPU cores"
python3 -c "import torch; print('torch', torch.__version__, torch.cuda.get_device_name())" || exit 1

section "CUDA tests"
run 150 python3 -m pytest -o addopts="" -q -p no:cacheprovider -k cuda tests/test_engine.py \
  tests/test_rng.py

if [ "${ENGINE:-1}" != 0 ]; then
  section "engine by batch size"
  run 200 python3 benchmarks/bench_cuda.py --runs 1,1024,16384,131072,262144,524288 \
    ${PROFILE:+--profile}
fi

section "whole sweep on CUDA ($MEMBERS x $STEPS)"
run 200 python3 benchmarks/bench_sweep.py --device cuda --members "$MEMBERS" --steps "$STEPS" \
  --engine-runs 131072 --engine-steps 256 --keep "$WORK/sw_cuda"

section "whole sweep on all CPU cores ($MEMBERS x $STEPS)"
run 200 python3 benchmarks/bench_sweep.py --members "$MEMBERS" --steps "$STEPS" \
  --engine-steps 300 --keep "$WORK/sw_cpu"

section "CPU and CUDA sweeps, member by member"
run 120 python3 benchmarks/compare_sweeps.py "$WORK/sw_cpu" "$WORK/sw_cuda" --checkpoints 1024

section "commands on a CUDA run"
M=fixed-s0007
run 60 $P train --preset fixed --seed 7 --steps "$STEPS" --batch-size 64 --inner-batch 8 \
  --device cuda --out "$WORK/one_cuda" --force --json --quiet > "$WORK/one_cuda.json"
run 60 $P sweep export "$WORK/sw_cuda" "$M" --out "$WORK/exported"
python3 - "$WORK" <<'PY'
import json, sys
from pathlib import Path
w = Path(sys.argv[1])
a = json.loads((w / "one_cuda" / "summary.json").read_text())
b = json.loads((w / "exported" / "summary.json").read_text())
keys = [k for k in a if isinstance(a[k], float) and k in b and k != "wall_seconds"]
worst = max(abs(a[k] - b[k]) for k in keys)
print(f"train --device cuda vs sweep export: class {a['class']} / {b['class']}, "
      f"largest metric difference {worst:.3g} over {len(keys)} metrics")
PY
run 60 $P animate "$WORK/one_cuda" --format gif --out "$WORK/one_cuda.gif"
run 60 $P diagnose run "$WORK/sw_cuda/members/$M" --json | head -c 300; echo
echo; echo "== done ($(date +%T))"
