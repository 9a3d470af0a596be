#!/usr/bin/env bash
# One-shot GPU check (run on a CUDA machine from the repo root; writes to $OUT or ./gpu-check):
# the CUDA tests, the throughput benchmark on cuda, and a timed capacity slice on cuda
# beside the same slice on the CPU. Works without installing the package (PYTHONPATH=src);
# the search mode's tuner (optuna) is not needed.
set -uo pipefail
OUT=${OUT:-gpu-check}
mkdir -p "$OUT"
export PYTHONPATH=src PYTHONUNBUFFERED=1
PY=${PY:-python3}
nvidia-smi -L | tee "$OUT/device.txt"
$PY -c "import torch; print('torch', torch.__version__, torch.cuda.get_device_name())" | tee -a "$OUT/device.txt"

timeout 120 $PY -m pytest -q -p no:cacheprovider tests/test_cuda.py tests/test_cells.py tests/test_optim.py 2>&1 | tee "$OUT/tests.log"

timeout 200 $PY benchmarks/throughput.py --device cuda --ensembles 1,8,32,128 --max-step-s 3 2>&1 | tee "$OUT/bench_cuda.txt"

# capacity slice: GRU, 2000-parameter budget, depth 1, 8 random-HP trials as one ensemble
D=$(mktemp -d)
$PY -m rnncap.cli data --task capacity --seed 0 --options '{"n_in":16,"seq_len":5,"n_samples":20000}' --out "$D/data"
SPEC='{"experiment":"capacity","task":"capacity","mode":"random","cell":"gru","budget":2000,"depth":1,"seed":0,
"options":{"n_in":16,"seq_len":5,"n_samples":20000},"data_dir":"'"$D"'/data",
"search":{"trials":8,"ensemble":8,"batch_size":8192,"steps":[STEPS,STEPS],"eval_every":100,
"fixed":{"optimizer":"adam","lr":0.01,"lr_decay":0.1,"clip":100,"l2":1e-8,"square_init":"orthogonal"},"ranges":{"b_ratio":[3,4]}}}'
for dev_steps in cuda:600 cpu:200; do  # compare steps/s: the CPU runs fewer steps to fit the time
  dev=${dev_steps%%:*}
  start=$SECONDS
  timeout 200 $PY -m rnncap.cli train --spec "${SPEC//STEPS/${dev_steps##*:}}" \
    --out "$D/run-$dev" --device $dev --threads 1 2>&1 \
    | grep -v Warning | tee "$OUT/slice_$dev.log"
  echo "$dev wall $((SECONDS - start)) s" | tee -a "$OUT/slice_$dev.log"
done
