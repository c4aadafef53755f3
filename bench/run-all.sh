#!/usr/bin/env bash
# Runs every benchmark suite, with TensorFlow.js's WebGPU backend (and PyTorch CPU where installed)
# in the same process, and keeps each suite's table and ratios in OUT (default bench/out/<date>).
# This is how bench/RESULTS.md was measured. Takes about 13 minutes on 2 cores with lavapipe
# (tfjs's ResNet-18 step alone is ~45 s); run it on a quiet machine: times are wall clock.
#   bench/run-all.sh [OUT]
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-bench/out/$(date -u +%Y%m%d-%H%M)}
mkdir -p "$out"
node scripts/setup.mjs --quiet
node scripts/build.mjs --quiet --no-types
{
  echo "date: $(date -u +%FT%TZ)"
  echo "commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
  echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cores"
  echo "node: $(node --version)"
} >"$out/machine.txt"
run() { # name, then bench arguments
  local name=$1; shift
  echo "== $name: npm run bench -- $*" | tee -a "$out/machine.txt"
  node dist/bench.js "$@" >"$out/$name.txt" 2>"$out/$name.ratios.txt" || echo "   failed (see $out/$name.ratios.txt)"
  grep -v '^Warning:' "$out/$name.ratios.txt" >"$out/$name.ratios.tmp" || true
  mv "$out/$name.ratios.tmp" "$out/$name.ratios.txt"
}
run matmul compare matmul
run bmm compare bmm
run softmax compare softmax
run conv2d compare conv2d
run bnpool compare bnpool
run resnet18-step compare resnet18-step --repeats 3 --warmup 1
run moco-step compare moco-step --repeats 3 --warmup 1
run moco-kernels moco-kernels
run augment augment
echo "results in $out"
