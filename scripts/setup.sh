#!/usr/bin/env bash
# Set up, build and run marginsim on Debian 12 (bookworm). Idempotent: packages already
# installed are left alone, and an existing build directory is reused.
#
#   scripts/setup.sh [build]    install what is missing, configure, build
#   scripts/setup.sh example    ... then run the article's example, configs/seed_example.toml
#   scripts/setup.sh test       ... then run the test suite (ctest)
#   scripts/setup.sh tsan       build oneTBB from Debian's source with ThreadSanitizer (once,
#                               in the build directory), build marginsim with TSan against it
#                               and run the tests of the parallel code (see tsan_stages)
#   scripts/setup.sh fuzz       build the libFuzzer targets of tests/fuzz with clang (ASan +
#                               UBSan, library included) and run each for FUZZ_SECONDS from its
#                               seeds and the corpus of earlier runs (see tests/fuzz/README.md)
#
# Arguments after `example` go to `marginsim run`, after `test` and `tsan` to ctest
# (e.g. `scripts/setup.sh example --paths 10000`, `scripts/setup.sh test -R scenario`), after
# `fuzz` they name the targets to run (default: all of fuzz_targets).
#
# Environment:
#   BUILD_DIR   build directory (default: build; build-tsan for `tsan`, build-fuzz for `fuzz`)
#   BUILD_TYPE  CMake build type of a new build directory (default: Release;
#               RelWithDebInfo for `tsan` and `fuzz`)
#   CMAKE_ARGS  extra arguments for the CMake configure step, split on spaces
#               (e.g. CMAKE_ARGS="-DMARGINSIM_SANITIZE=address,undefined")
#   JOBS        parallel build jobs, and fuzz targets run at once (default: all cores)
#   FUZZ_SECONDS  how long `fuzz` runs each target (default: 60)
set -euo pipefail

readonly packages=(
    build-essential cmake ninja-build pkg-config
    libeigen3-dev libboost-dev libboost-random-dev libtbb-dev
    catch2 libtomlplusplus-dev libcli11-dev libfmt-dev nlohmann-json3-dev libbenchmark-dev
    pybind11-dev python3-dev python3-numpy
    libopenmpi-dev openmpi-bin
)
# `test` only: headless Chromium renders the HTML reports in tests/test_html.cpp (100+ MB, so
# not installed for build or example; without it that test says it skipped the browser).
readonly test_packages=(chromium)
# `tsan`: the test stages that run the parallel code (the thread pool of simulate, detailed
# runs and sweeps, the weighted tallies of importance sampling, batch's worker threads, the
# CLI's --threads, backtest's parallel calibrations, the spread runs of test_ranks whose ranks
# are threads). The others are serial.
readonly tsan_stages=(simulate precision importance sweep batch cli backtest ranks)
# `fuzz`: clang and its libFuzzer runtime (Debian 12: clang 14), and the targets, one per input
# format (tests/fuzz/fuzz_<target>.cpp) with the longest input each is given.
readonly fuzz_packages=(clang libclang-rt-14-dev)
readonly fuzz_targets=(scenario tier_table price_csv checkpoint)
declare -rA fuzz_max_len=([scenario]=8192 [tier_table]=4096 [price_csv]=4096 [checkpoint]=4096)

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo_root"
command="${1:-build}"
if (($# > 0)); then shift; fi
if [[ "$command" == tsan ]]; then
    build_dir="${BUILD_DIR:-build-tsan}"
elif [[ "$command" == fuzz ]]; then
    build_dir="${BUILD_DIR:-build-fuzz}"
else
    build_dir="${BUILD_DIR:-build}"
fi

say() { printf 'setup: %s\n' "$*"; }
fail() { printf 'setup: error: %s\n' "$*" >&2; exit 1; }

usage() {
    cat <<'EOF'
usage: scripts/setup.sh [build | example [RUN-ARGS...] | test [CTEST-ARGS...] | tsan [CTEST-ARGS...]
                        | fuzz [TARGET...] | help]
  build     (the default) install missing Debian packages, configure and build
  example   ... then run: <build>/marginsim run configs/seed_example.toml RUN-ARGS
  test      ... also install chromium (for the HTML report test), then run:
            ctest --output-on-failure -j2 CTEST-ARGS in the build directory
  tsan      build Debian's oneTBB source with -fsanitize=thread into <build>/onetbb-tsan
            (downloaded with apt-get source into private directories; reused when present),
            build marginsim with MARGINSIM_SANITIZE=thread against it and run the parallel
            test stages (simulate, precision, importance, sweep, batch, cli, backtest, ranks) under ThreadSanitizer
  fuzz      install clang, build the libFuzzer targets (scenario, tier_table, price_csv,
            checkpoint) with ASan + UBSan into <build>, run each for FUZZ_SECONDS (60) from
            its seeds, regressions and the corpus of earlier runs (<build>/fuzz/TARGET/corpus),
            JOBS at once; fails on any finding, naming the input to keep as a regression
Environment: BUILD_DIR (default build; build-tsan for tsan, build-fuzz for fuzz), BUILD_TYPE
(default Release; RelWithDebInfo for tsan and fuzz), CMAKE_ARGS, JOBS, FUZZ_SECONDS.
EOF
}

is_installed() {
    [[ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null || true)" == "install ok installed" ]]
}

install_packages() {
    if ! command -v dpkg-query >/dev/null 2>&1; then
        say "no dpkg-query: not a Debian system, skipping package installation"
        say "make sure these (or their equivalents) are installed: ${wanted[*]}"
        return
    fi
    local missing=() p
    for p in "${wanted[@]}"; do
        is_installed "$p" || missing+=("$p")
    done
    if ((${#missing[@]} == 0)); then
        say "all ${#wanted[@]} packages already installed"
        return
    fi
    if ((EUID != 0)); then
        fail "missing packages: ${missing[*]}; run this script as root, or install them with:
  apt-get install -y --no-install-recommends ${missing[*]}"
    fi
    say "installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update
    apt-get install -y --no-install-recommends "${missing[@]}"
}

configure() {
    local args=(-S "$repo_root" -B "$build_dir")
    # An existing build directory keeps its generator and build type.
    if [[ ! -f "$build_dir/CMakeCache.txt" ]]; then
        args+=(-G Ninja "-DCMAKE_BUILD_TYPE=${BUILD_TYPE:-$default_build_type}")
    fi
    local extra=()
    read -r -a extra <<<"${CMAKE_ARGS:-}"
    say "configuring $build_dir"
    cmake "${args[@]}" "$@" "${extra[@]}"
}

build() {
    say "building $build_dir${*:+: $*}"
    local targets=()
    if (($# > 0)); then targets=(--target "$@"); fi
    cmake --build "$build_dir" --parallel "${JOBS:-$(nproc)}" "${targets[@]}"
}

# ThreadSanitizer only sees the synchronisation of code compiled with it: with Debian's libtbb
# it reports every task hand-over of the TBB scheduler as a race. So oneTBB is built from
# Debian's own source package, the version of the installed libtbb-dev (same headers, same
# patches), with oneTBB's TBB_SANITIZE=thread, into $tbb_prefix. The source comes from
# `apt-get source` run with a private source list, package lists and cache under
# $tbb_root/apt: the system's apt configuration and state are not touched. A stamp naming the
# version makes a rerun skip all of it.
build_tsan_tbb() {
    local version
    version="$(dpkg-query -W -f='${source:Version}' libtbb-dev)"
    local stamp="$tbb_prefix/marginsim-onetbb-tsan-$version.stamp"
    if [[ -f "$stamp" ]]; then
        say "oneTBB $version with ThreadSanitizer already built in $tbb_prefix"
        return
    fi
    command -v dpkg-source >/dev/null 2>&1 || fail "dpkg-source (package dpkg-dev) is needed to unpack oneTBB"
    say "building oneTBB $version with ThreadSanitizer in $tbb_root"
    rm -rf "$tbb_root"
    local apt_dir="$tbb_root/apt"
    mkdir -p "$apt_dir/lists/partial" "$apt_dir/cache/archives/partial"
    local codename
    codename="$(. /etc/os-release && echo "${VERSION_CODENAME:-bookworm}")"
    # The deb822 format: apt reads a source list in it only from a file named *.sources.
    cat >"$apt_dir/onetbb.sources" <<EOF
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: $codename $codename-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb-src
URIs: http://deb.debian.org/debian-security
Suites: $codename-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
    local apt_private=(-q -o "Dir::Etc::SourceList=$apt_dir/onetbb.sources" -o Dir::Etc::SourceParts=/dev/null
                       -o "Dir::State::Lists=$apt_dir/lists" -o "Dir::Cache=$apt_dir/cache")
    # As root apt drops to the user _apt to download, who cannot write to the build directory.
    if ((EUID == 0)); then apt_private+=(-o APT::Sandbox::User=root); fi
    apt-get "${apt_private[@]}" update
    (cd "$apt_dir" && apt-get "${apt_private[@]}" source --download-only "onetbb=$version")
    dpkg-source -x "$apt_dir"/onetbb_*.dsc "$tbb_root/src"
    # TBB_STRICT=OFF: oneTBB's -Werror is for its developers, not for a compiler it never met.
    # tbbmalloc is not used by marginsim. The tests of oneTBB itself are not built.
    cmake -S "$tbb_root/src" -B "$tbb_root/build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
        -DBUILD_SHARED_LIBS=ON -DTBB_SANITIZE=thread -DTBB_TEST=OFF -DTBB_STRICT=OFF \
        -DTBBMALLOC_BUILD=OFF -DCMAKE_INSTALL_PREFIX="$tbb_prefix"
    cmake --build "$tbb_root/build" --parallel "${JOBS:-$(nproc)}"
    cmake --install "$tbb_root/build" >/dev/null
    touch "$stamp"
}

# Fails unless every test binary loads libtbb from $tbb_prefix (the build RPATH points there).
check_tsan_tbb_linked() {
    local stage library
    for stage in "${tsan_stages[@]}"; do
        library="$(ldd "$build_dir/tests/marginsim_test_$stage" | awk '$1 ~ /^libtbb/ {print $3}')"
        [[ "$library" == "$tbb_prefix"/lib/* ]] ||
            fail "marginsim_test_$stage loads libtbb from '${library:-nowhere}', not from $tbb_prefix/lib"
    done
    say "the test programs load the instrumented ${library#"$tbb_prefix"/}"
}

# The seeds of a target: the files and the top level of the directories listed in
# <build>/tests/fuzz/TARGET.inputs (written by tests/fuzz/CMakeLists.txt: seeds, regressions),
# copied afresh into $1 so that libFuzzer adds its finds to the corpus only.
collect_fuzz_seeds() {
    local target="$1" seeds="$2" path
    rm -rf "$seeds"
    mkdir -p "$seeds"
    while IFS= read -r path; do
        [[ -n "$path" ]] || continue
        if [[ -d "$path" ]]; then
            find "$path" -maxdepth 1 -type f ! -name README.md -print0 |
                while IFS= read -r -d '' file; do
                    cp "$file" "$seeds/$(basename "$(dirname "$file")")_$(basename "$file")"
                done
        else
            cp "$path" "$seeds/"
        fi
    done <"$build_dir/tests/fuzz/$target.inputs"
}

# Runs one target for $fuzz_seconds; its output goes to <work>/log. libFuzzer first runs every
# seed and corpus input (the regressions among them), then mutates. -timeout: an input that
# takes longer is a finding (a hang), as is one that needs more than -rss_limit_mb.
run_fuzz_target() {
    local target="$1" work="$build_dir/fuzz/$1"
    mkdir -p "$work/corpus" "$work/artifacts"
    collect_fuzz_seeds "$target" "$work/seeds"
    local dict=()
    if [[ -f "tests/fuzz/$target.dict" ]]; then dict=("-dict=tests/fuzz/$target.dict"); fi
    "$build_dir/tests/fuzz/marginsim_fuzz_$target" "${dict[@]}" -max_len="${fuzz_max_len[$target]}" \
        -max_total_time="$fuzz_seconds" -timeout=25 -rss_limit_mb=2048 -print_final_stats=1 \
        -artifact_prefix="$work/artifacts/" "$work/corpus" "$work/seeds" >"$work/log" 2>&1
}

# Every target, JOBS at once; then a line per target, and the findings of those that failed.
run_fuzz_targets() {
    local targets=("$@") target failed=() running=0
    local -A pid_of
    say "fuzzing ${targets[*]} for $fuzz_seconds s each, $jobs at once, in $build_dir/fuzz"
    for target in "${targets[@]}"; do
        if ((running >= jobs)); then
            wait -n || true
            running=$((running - 1))
        fi
        rm -f "$build_dir/fuzz/$target/artifacts/"* 2>/dev/null || true
        run_fuzz_target "$target" &
        pid_of[$target]=$!
        running=$((running + 1))
    done
    for target in "${targets[@]}"; do
        local log="$build_dir/fuzz/$target/log" status=0
        wait "${pid_of[$target]}" || status=$?
        say "fuzz_$target: $(grep -h -E '^stat::number_of_executed_units' "$log" | awk '{print $2}') runs," \
            "$(find "$build_dir/fuzz/$target/corpus" -type f | wc -l) corpus inputs, exit $status"
        if ((status != 0)); then failed+=("$target"); fi
    done
    for target in "${failed[@]}"; do
        local work="$build_dir/fuzz/$target"
        printf '\n---- fuzz_%s: %s\n' "$target" "$work/log" >&2
        tail -n 40 "$work/log" >&2
        local artifact
        for artifact in "$work"/artifacts/*; do
            [[ -e "$artifact" ]] || continue
            printf 'setup: finding of fuzz_%s: %s\n  reproduce: %s %s\n  once fixed, keep it: cp %s %s/<what-it-was>\n' \
                "$target" "$artifact" "$build_dir/tests/fuzz/marginsim_fuzz_$target" "$artifact" "$artifact" \
                "$(if [[ $target == scenario ]]; then echo tests/fuzz/regressions; else echo "tests/fuzz/regressions/$target"; fi)" >&2
        done
    done
    if ((${#failed[@]} > 0)); then fail "findings in: ${failed[*]}"; fi
}

case "$command" in
    help | -h | --help)
        usage
        exit 0
        ;;
    build | example | test | tsan | fuzz) ;;
    *)
        usage >&2
        exit 2
        ;;
esac

default_build_type=Release
wanted=("${packages[@]}")
if [[ "$command" == test ]]; then wanted+=("${test_packages[@]}"); fi
if [[ "$command" == fuzz ]]; then wanted+=("${fuzz_packages[@]}"); fi
install_packages
if [[ "$command" == fuzz ]]; then
    default_build_type=RelWithDebInfo
    # Warnings are errors for the project's compiler, g++; clang's own (e.g. the GCC-only
    # optimize attribute of the hot kernels) stay warnings here: this build looks for bugs.
    configure -DCMAKE_CXX_COMPILER=clang++ -DMARGINSIM_FUZZ=ON -DMARGINSIM_WERROR=OFF \
        -DMARGINSIM_BUILD_TESTS=OFF -DMARGINSIM_BUILD_BENCH=OFF -DMARGINSIM_INSTALL=OFF
    fuzz_run=("$@")
    if ((${#fuzz_run[@]} == 0)); then fuzz_run=("${fuzz_targets[@]}"); fi
    targets=()
    for target in "${fuzz_run[@]}"; do
        [[ -v "fuzz_max_len[$target]" ]] || fail "no fuzz target '$target' (targets: ${fuzz_targets[*]})"
        targets+=("marginsim_fuzz_$target")
    done
    build "${targets[@]}"
elif [[ "$command" == tsan ]]; then
    default_build_type=RelWithDebInfo
    tbb_root="$(realpath -m "$build_dir/onetbb-tsan")"
    tbb_prefix="$tbb_root/install"
    build_tsan_tbb
    configure -DMARGINSIM_SANITIZE=thread -DMARGINSIM_BUILD_BENCH=OFF "-DCMAKE_PREFIX_PATH=$tbb_prefix"
    targets=(marginsim_cli)
    for stage in "${tsan_stages[@]}"; do targets+=("marginsim_test_$stage"); done
    build "${targets[@]}"
    check_tsan_tbb_linked
else
    configure
    build
fi

case "$command" in
    example)
        say "running $build_dir/marginsim run configs/seed_example.toml $*"
        "$build_dir/marginsim" run configs/seed_example.toml "$@"
        ;;
    test)
        say "running the tests in $build_dir"
        ctest --test-dir "$build_dir" --output-on-failure -j2 --no-tests=error "$@"
        ;;
    tsan)
        # halt_on_error: the first report fails the test (and the program it ran in). The
        # suppressions name races inside oneTBB only, each explained in the file.
        export TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 suppressions=$repo_root/tests/tsan.supp ${TSAN_OPTIONS:-}"
        stage_regex="$(IFS='|'; echo "${tsan_stages[*]}")"
        say "running the tests of the parallel code under ThreadSanitizer in $build_dir"
        ctest --test-dir "$build_dir" --output-on-failure -j2 --no-tests=error -R "^($stage_regex):" "$@"
        ;;
    fuzz)
        fuzz_seconds="${FUZZ_SECONDS:-60}"
        jobs="${JOBS:-$(nproc)}"
        run_fuzz_targets "${fuzz_run[@]}"
        ;;
esac
say "done"
