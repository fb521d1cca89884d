#!/usr/bin/env bash
# The GPU checks of motlib in one run (how the GPU figures in reports/ were taken).
# Usage, on a CUDA machine, from the repository root:  OUT=some/folder bash scripts/gpu_check.sh [LANE.sh ...]
# Each LANE.sh (optional) is a bash script of long jobs (reproductions) run in the background beside the checks, with
# OMP_NUM_THREADS=$LANE_THREADS; lanes still running DEADLINE seconds after the start are stopped. CHECKS=0 runs the
# lanes only. The reports/ folder,
# the reproduction records and every log end up in $OUT/results.tar.gz.
# Wheels of the pure-Python dependencies a bare GPU image lacks may be given in .whl/ (see README, "GPU").
set -uo pipefail
T0=$SECONDS
OUT=${OUT:-gpu_out}
DEADLINE=${DEADLINE:-500}
mkdir -p "$OUT" logs
export PYTHONUNBUFFERED=1 MPLBACKEND=Agg
log() { echo "[$(date -u +%H:%M:%S) +$((SECONDS - T0))s] $*"; }
if ls .whl/*.whl >/dev/null 2>&1; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
  export PYTHONPATH=/tmp/site
fi
python3 -m pip install -q --no-deps --no-index --no-build-isolation . >/dev/null 2>&1 || exit 1
log "versions"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
python3 -c "import torch, torchvision, sys; print(sys.version.split()[0], torch.__version__, torchvision.__version__, torch.cuda.get_device_name(0))"
lscpu | grep -m1 'Model name'; nproc
log "data"
motlib-synth data/synth --preset tiny | tail -1
pids=()
for lane in "$@"; do
  name=$(basename "$lane" .sh)
  log "lane $name started"
  OMP_NUM_THREADS=${LANE_THREADS:-3} setsid bash "$lane" > "logs/$name.log" 2>&1 &
  pids+=($!)
done
if [ "${CHECKS:-1}" = 1 ]; then
log "1. pytest on the GPU machine: the tests that train or run on cuda"
timeout ${PYTEST_S:-150} python3 -m pytest -q -p no:cacheprovider tests -k "cuda or gpu" > logs/pytest_gpu.log 2>&1
tail -8 logs/pytest_gpu.log
log "2. training-step time on the GPU: quick and full FairMOT presets, bf16/channels_last/float32 (interleaved)"
timeout 90 python3 scripts/gpu_step_time.py fairmot quick data/synth "$OUT/gpu_step_fairmot_quick.md" 30 > logs/step_quick.log 2>&1
tail -8 logs/step_quick.log
timeout 110 python3 scripts/gpu_step_time.py fairmot full data/synth "$OUT/gpu_step_fairmot_full.md" 15 > logs/step_full.log 2>&1
tail -8 logs/step_full.log
log "3. DDP through torchrun (one process per GPU; here 1)"
timeout 80 torchrun --standalone --nproc_per_node 1 "$(command -v motlib-train)" fairmot --preset quick --data data/synth \
  --out /tmp/ddp --set max_steps=20 device=cuda progress=False > logs/ddp.log 2>&1
echo "torchrun rc $?"; tail -3 logs/ddp.log
fi
for i in "${!pids[@]}"; do
  left=$((DEADLINE - (SECONDS - T0)))
  while kill -0 "${pids[$i]}" 2>/dev/null && [ $left -gt 0 ]; do sleep 5; left=$((DEADLINE - (SECONDS - T0))); done
  if kill -0 "${pids[$i]}" 2>/dev/null; then log "lane $((i + 1)) stopped at the deadline"; kill -- -"${pids[$i]}" 2>/dev/null; fi
done
for f in logs/*.log; do echo "== $f"; tail -4 "$f"; done
tar czf "$OUT/results.tar.gz" reports logs $(ls runs/reproduce/*.json 2>/dev/null) $(ls nbs_out 2>/dev/null | sed 's|^|nbs_out/|') 2>/dev/null
log "done"
