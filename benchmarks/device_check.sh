#!/usr/bin/env bash
# The GPU check: the bound tests and the benchmarks' device timings, on a machine with CUDA.
#
#   OUT=/tmp/gpu-check bash benchmarks/device_check.sh
#
# Run from the repository root. Wheels of missing dependencies may be put in .whl/ (they are installed
# into /tmp/site first). Every step has its own time limit (TESTS_S, BENCH_S, SDP_S seconds; 0 skips the
# step), so one slow step does not hide the others; logs and reports go to $OUT (at most eight files:
# env.txt, tests.log, bench.log, bench_report.md, bench_results.json, sdp.log, sdp_report.md).
# Test workers run one BLAS/OpenMP thread each: 12 workers of 16 threads on 16 cores made tiny CPU
# factorizations take over 45 s (measured on an H100 machine, 2026-11-27).
set -u
OUT=${OUT:-/tmp/gpu-check}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1 PYTHONPATH="$PWD"
if compgen -G ".whl/*.whl" > /dev/null; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
    && export PYTHONPATH="/tmp/site:$PWD"
fi
{
  date -u; uptime; nproc
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
  python3 -c "import torch; print('torch', torch.__version__, 'cuda', torch.cuda.is_available(), torch.cuda.get_device_name(0) if torch.cuda.is_available() else '-')"
} > "$OUT/env.txt" 2>&1

if [ "${TESTS_S:-170}" != 0 ]; then
  PARALLEL=()
  python3 -c "import xdist" 2>/dev/null && PARALLEL=(-n "${WORKERS:-8}")
  python3 -c "import pytest_timeout" 2>/dev/null && PARALLEL+=(--timeout "${TEST_TIMEOUT_S:-90}")
  OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 timeout -s INT -k 10 "${TESTS_S:-170}" \
    python3 -m pytest -q -rfE --tb=short -p no:benchmark "${PARALLEL[@]}" \
    ${TESTS:-tests/test_bounds_*.py tests/test_bound_cli.py tests/test_deep_bounds.py tests/test_benchmarks_smoke.py lipexact/bounds} \
    > "$OUT/tests.log" 2>&1
  echo "tests exit $?" >> "$OUT/tests.log"
  pkill -f "python3 -m pytest" 2>/dev/null; pkill -f xdist 2>/dev/null; sleep 1
fi

if [ "${BENCH_S:-200}" != 0 ]; then
  uptime >> "$OUT/bench.log"
  timeout -k 10 "${BENCH_S:-200}" python3 -m benchmarks.run --quick --no-progress --device cuda \
    --sections "${BENCH_SECTIONS:-mlp,cnn,alexnet,devices}" --out /tmp/gpu-bench >> "$OUT/bench.log" 2>&1
  echo "bench exit $?" >> "$OUT/bench.log"
  cp /tmp/gpu-bench/report.md "$OUT/bench_report.md" 2>/dev/null
  cp /tmp/gpu-bench/results.json "$OUT/bench_results.json" 2>/dev/null
fi

if [ "${SDP_S:-120}" != 0 ]; then
  uptime >> "$OUT/sdp.log"
  timeout -k 10 "${SDP_S:-120}" python3 -m benchmarks.sdp --networks "${SDP_NETWORKS:-small,mnist-mlp}" --repeats 1 \
    --out /tmp/gpu-sdp >> "$OUT/sdp.log" 2>&1
  echo "sdp exit $?" >> "$OUT/sdp.log"
  cp /tmp/gpu-sdp/report.md "$OUT/sdp_report.md" 2>/dev/null
fi
exit 0
