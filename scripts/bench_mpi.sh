#!/usr/bin/env bash
# MPI measured (docs/distributed.md#measured): on the seed book, the speed-up of 2 ranks of 1
# thread over 1 process of 1 thread (wall time of the whole command, mpirun's start included,
# best of REPEAT, and the run's own elapsed_s), the bytes each rank sent and received, and each
# rank's peak resident memory against one process's.
#
#   scripts/bench_mpi.sh [PATHS] [REPEAT]     (default 4000000 paths, best of 3)
#
# BUILD_DIR (default build) holds the program; MPIEXEC (default mpirun); needs GNU time
# (/usr/bin/time, Debian: time). Run it on an otherwise
# idle machine: a ratio of two wall times is only as good as the quiet it was measured in.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

paths="${1:-4000000}"
repeat="${2:-3}"
program="${BUILD_DIR:-build}/marginsim"
mpiexec="${MPIEXEC:-mpirun}"
book=configs/seed_example.toml
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mpi=("$mpiexec" --allow-run-as-root --oversubscribe)
run=(run "$book" --paths "$paths" --threads 1 --force -q)

# The least wall time of `repeat` runs of the command, in seconds.
best_of() {
    local best=""
    for _ in $(seq "$repeat"); do
        local start end
        start=$(date +%s.%N)
        "$@" >/dev/null
        end=$(date +%s.%N)
        best=$(awk -v s="$start" -v e="$end" -v b="$best" 'BEGIN { t = e - s; print (b == "" || t < b) ? t : b }')
    done
    echo "$best"
}
elapsed_of() { grep -o '"elapsed_s": *[0-9.e+-]*' "$1" | head -1 | sed 's/.*: *//'; }

echo "seed book, $paths paths, 1 thread a process, best of $repeat"
one=$(best_of "$program" "${run[@]}" --json "$work/one.json")
two=$(best_of "${mpi[@]}" -np 2 "$program" "${run[@]}" --json "$work/two.json")
printf '1 process : %6.2f s wall, %6.2f s run\n' "$one" "$(elapsed_of "$work/one.json")"
printf '2 ranks   : %6.2f s wall, %6.2f s run\n' "$two" "$(elapsed_of "$work/two.json")"
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
echo "speed-up  : $(ratio "$one" "$two")x wall, $(ratio "$(elapsed_of "$work/one.json")" "$(elapsed_of "$work/two.json")")x run"

echo "bytes exchanged (payload):"
MARGINSIM_RANK_STATS=1 "${mpi[@]}" -x MARGINSIM_RANK_STATS -np 2 "$program" "${run[@]}" 2>&1 >/dev/null | grep '^rank' | sed 's/^/  /'

echo "peak resident memory:"
/usr/bin/time -f '%M' -o "$work/mem.one" "$program" "${run[@]}" >/dev/null
printf '  1 process: %d MiB\n' $(($(cat "$work/mem.one") / 1024))
"${mpi[@]}" -np 2 sh -c '/usr/bin/time -f %M -o "$0/mem.$OMPI_COMM_WORLD_RANK" "$@"' "$work" "$program" "${run[@]}" >/dev/null
for r in 0 1; do printf '  rank %d   : %d MiB\n' "$r" $(($(cat "$work/mem.$r") / 1024)); done
