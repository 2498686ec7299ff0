#!/usr/bin/env bash
# compare.sh runs bulwark's benchmarks (bench/) and the same workloads on its peers
# (bench/peers/), summarises both with benchstat, and prints bulwark ÷ peer ratios of
# ns/op and allocs/op per case and concurrency level, each windowed breaker against
# bulwark's consecutive one, then the targets: issue 17's table first (every row, each
# a ratio against a yardstick or a peer of the same run, with benchstat's 95 % interval
# and pass/miss; a row whose benchmark is not in the run says "not measured"), then
# issues 12 and 6.
#
#   bash bench/compare.sh                    # COUNT=6 BENCHTIME=200ms
#   COUNT=10 BENCHTIME=500ms bash bench/compare.sh
#   BENCH='Bulwark|Failsafe' bash bench/compare.sh   # a subset (a -bench regexp)
#   README=README.md bash bench/compare.sh   # also rewrite README's table (between the
#                                            # <!-- bench:begin --> and <!-- bench:end --> lines)
#
# The two sides run interleaved, one -count at a time, so a burst of load on a noisy
# machine hits both alike. Raw outputs go to bench/results/ (not committed). Compare
# ratios from one run, not absolute times across machines.
set -euo pipefail

COUNT=${COUNT:-6}
BENCHTIME=${BENCHTIME:-200ms}
BENCH=${BENCH:-.}
README=${README:-}
# benchstat, pinned: after the first download it runs from the module cache, offline.
BENCHSTAT_VERSION=${BENCHSTAT_VERSION:-v0.0.0-20260908200009-22c9c6c9d4da}

if ! [[ $COUNT =~ ^[0-9]+$ ]] || [ "$COUNT" -lt 6 ]; then
  echo "compare.sh: COUNT must be an integer ≥ 6, got '$COUNT'" >&2
  exit 2
fi

bench_dir=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$bench_dir/.." && pwd)
results="$bench_dir/results"
mkdir -p "$results"
stamp=$(date -u +%Y%m%dT%H%M%SZ)
bulwark_out="$results/bulwark-$stamp.txt"
peers_out="$results/peers-$stamp.txt"
bulwark_bin="$results/bulwark.test"
peers_bin="$results/peers.test"

echo "## Machine"
echo
echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "- cpu: $(grep -m1 'model name' /proc/cpuinfo | sed 's/^[^:]*: *//') ($(nproc) CPUs online)"
echo "- go: $(go version)"
echo "- commit: $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)$(git -C "$root" diff --quiet HEAD -- 2>/dev/null || echo ' (work tree differs)')"
echo "- load average before the run: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "- command: COUNT=$COUNT BENCHTIME=$BENCHTIME bash bench/compare.sh"

echo "building the benchmark binaries..." >&2
(cd "$root" && go test -c -o "$bulwark_bin" ./bench)
(cd "$bench_dir/peers" && go test -c -o "$peers_bin" .)

# Each binary runs in its package directory, as go test would.
run() { # run BINARY DIR OUT
  (cd "$2" && "$1" -test.run '^$' -test.bench "$BENCH" -test.benchmem \
    -test.benchtime "$BENCHTIME" -test.count 1) >>"$3"
}
: >"$bulwark_out"
: >"$peers_out"
for i in $(seq 1 "$COUNT"); do
  echo "run $i of $COUNT..." >&2
  run "$bulwark_bin" "$bench_dir" "$bulwark_out"
  run "$peers_bin" "$bench_dir/peers" "$peers_out"
done
echo "- load average after the run: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "- raw results (not committed): bench/results/$(basename "$bulwark_out"), bench/results/$(basename "$peers_out")"
echo

echo "## benchstat"
echo
echo '```'
benchstat() { (cd "$root" && go run "golang.org/x/perf/cmd/benchstat@$BENCHSTAT_VERSION" "$@"); }
if ! benchstat "bench/results/$(basename "$bulwark_out")" "bench/results/$(basename "$peers_out")"; then
  echo "(benchstat $BENCHSTAT_VERSION is not available: it needs the module proxy once)"
fi
echo '```'
echo

echo "## Ratios"
echo
(cd "$root" && go run ./bench/internal/ratio -unpaired -targets "$bulwark_out" "$peers_out")
if [ -n "$README" ]; then
  note="Measured by \`bench/compare.sh\` (COUNT=$COUNT BENCHTIME=$BENCHTIME) on $(date -u '+%Y-%m-%d'): $(grep -m1 'model name' /proc/cpuinfo | sed 's/^[^:]*: *//'), $(nproc) CPUs, $(go version | cut -d' ' -f3), commit $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)."
  readme_path=$(cd "$root" && realpath "$README")
  (cd "$root" && go run ./bench/internal/ratio -readme "$readme_path" -note "$note" "$bulwark_out" "$peers_out")
  echo "README table rewritten: $README" >&2
fi
echo "Bulk: one ExecuteAll of 100 functions against 100 sequential ExecuteWithPolicy calls"
echo "under the same policy (ExecuteSingle)."
echo
(cd "$root" && go run ./bench/internal/ratio -num ExecuteAll "$bulwark_out")
