#!/usr/bin/env bash
# MPI measured (docs/distributed.md#measured): on the seed book, the speed-up of 2 ranks of 1
# thread over 1 process of 1 thread (wall time of the whole command, mpirun's start included,
# best of REPEAT, and the run's own elapsed_s), the bytes each rank sent and received, and each
# rank's peak resident memory against one process's.
#
#   scripts/bench_mpi.sh [PATHS] [REPEAT] [RUN OPTION ...]   (default 4000000 paths, best of 3)
#
# RUN OPTIONs go to every run: --precision 0.0005 for a run to a precision target (PATHS its
# maximum), --set 'simulation.importance_sampling="selloff"' for an importance-sampled one.
#
# BUILD_DIR (default build) holds the program; MPIEXEC (default mpirun); needs GNU time
# (/usr/bin/time, Debian: time). Run it on an otherwise
# idle machine: a ratio of two wall times is only as good as the quiet it was measured in.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

paths="${1:-4000000}"
repeat="${2:-3}"
shift $(($# < 2 ? $# : 2))
program="${BUILD_DIR:-build}/marginsim"
mpiexec="${MPIEXEC:-mpirun}"
book=configs/seed_example.toml
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mpi=("$mpiexec" --allow-run-as-root --oversubscribe)
run=(run "$book" --paths "$paths" --threads 1 --force -q "$@")

elapsed_of() { grep -o '"elapsed_s": *[0-9.e+-]*' "$1" | head -1 | sed 's/.*: *//'; }
less() { awk -v a="$1" -v b="$2" 'BEGIN { print (b == "" || a < b) ? a : b }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }

# The least wall time and the least elapsed_s of the run over `repeat` runs: "WALL RUN".
best_of() {
    local wall="" run=""
    for _ in $(seq "$repeat"); do
        local start end
        start=$(date +%s.%N)
        "$@" --json "$work/report.json" >/dev/null
        end=$(date +%s.%N)
        wall=$(less "$(awk -v s="$start" -v e="$end" 'BEGIN { print e - s }')" "$wall")
        run=$(less "$(elapsed_of "$work/report.json")" "$run")
    done
    echo "$wall $run"
}

echo "seed book, $paths paths${*:+ ($*)}, 1 thread a process, best of $repeat"
read -r one_wall one_run < <(best_of "$program" "${run[@]}")
read -r two_wall two_run < <(best_of "${mpi[@]}" -np 2 "$program" "${run[@]}")
printf '1 process : %6.2f s wall, %6.2f s run\n' "$one_wall" "$one_run"
printf '2 ranks   : %6.2f s wall, %6.2f s run\n' "$two_wall" "$two_run"
echo "speed-up  : $(ratio "$one_wall" "$two_wall")x wall, $(ratio "$one_run" "$two_run")x run"

echo "bytes exchanged (payload):"
MARGINSIM_RANK_STATS=1 "${mpi[@]}" -x MARGINSIM_RANK_STATS -np 2 "$program" "${run[@]}" 2>&1 >/dev/null | grep '^rank' | sed 's/^/  /'

echo "peak resident memory:"
/usr/bin/time -f '%M' -o "$work/mem.one" "$program" "${run[@]}" >/dev/null
printf '  1 process: %d MiB\n' $(($(cat "$work/mem.one") / 1024))
"${mpi[@]}" -np 2 sh -c '/usr/bin/time -f %M -o "$0/mem.$OMPI_COMM_WORLD_RANK" "$@"' "$work" "$program" "${run[@]}" >/dev/null
for r in 0 1; do printf '  rank %d   : %d MiB\n' "$r" $(($(cat "$work/mem.$r") / 1024)); done
