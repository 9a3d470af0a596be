#!/usr/bin/env bash
# The whole test suite: unit, workflow (dry runs + a tiny real run) and, with
# SLURM=1 (default), the real single-node SLURM cluster tests. Called by
# `make test` and by .ci/run.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
export MALLOC_MMAP_THRESHOLD_=4294967296 MALLOC_TRIM_THRESHOLD_=4294967296 MALLOC_TOP_PAD_=268435456

if [ "${SLURM:-1}" = "1" ]; then
  trap 'bash .ci/slurm/stop.sh >/dev/null 2>&1 || true' EXIT
  FAKE_GPUS=1 bash .ci/slurm/start.sh
  export RNNCAP_SLURM=1
  "$PY" -m pytest -ra "$@"
else
  "$PY" -m pytest -ra -m "not slurm" "$@"
fi
