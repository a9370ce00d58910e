#!/usr/bin/env bash
# The GPU check: the bound tests and the benchmarks' device timings, on a machine with CUDA.
#
#   OUT=/tmp/gpu-check bash benchmarks/device_check.sh
#
# Run from the repository root. Wheels of missing dependencies may be put in .whl/ (they are installed
# into /tmp/site first). Every step has its own time limit, so one slow step does not hide the others;
# logs and reports go to $OUT (at most eight files: env.txt, tests.log, bench.log, bench_report.md,
# bench_results.json, sdp.log, sdp_report.md).
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

PARALLEL=()
python3 -c "import xdist" 2>/dev/null && PARALLEL=(-n "${WORKERS:-8}")
timeout "${TESTS_S:-170}" python3 -m pytest -q -rfE --tb=short "${PARALLEL[@]}" \
  tests/test_bounds_*.py tests/test_bound_cli.py tests/test_deep_bounds.py tests/test_benchmarks_smoke.py \
  lipexact/bounds > "$OUT/tests.log" 2>&1
echo "tests exit $?" >> "$OUT/tests.log"

timeout "${BENCH_S:-200}" python3 -m benchmarks.run --quick --no-progress --device cuda \
  --sections mlp,cnn,alexnet,devices --out /tmp/gpu-bench > "$OUT/bench.log" 2>&1
echo "bench exit $?" >> "$OUT/bench.log"
cp /tmp/gpu-bench/report.md "$OUT/bench_report.md" 2>/dev/null
cp /tmp/gpu-bench/results.json "$OUT/bench_results.json" 2>/dev/null

timeout "${SDP_S:-120}" python3 -m benchmarks.sdp --networks "${SDP_NETWORKS:-small,mnist-mlp}" --repeats 1 \
  --out /tmp/gpu-sdp > "$OUT/sdp.log" 2>&1
echo "sdp exit $?" >> "$OUT/sdp.log"
cp /tmp/gpu-sdp/report.md "$OUT/sdp_report.md" 2>/dev/null
exit 0
