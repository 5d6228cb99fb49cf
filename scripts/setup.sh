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
#
# Arguments after `example` go to `marginsim run`, after `test` and `tsan` to ctest
# (e.g. `scripts/setup.sh example --paths 10000`, `scripts/setup.sh test -R scenario`).
#
# Environment:
#   BUILD_DIR   build directory (default: build; build-tsan for `tsan`)
#   BUILD_TYPE  CMake build type of a new build directory (default: Release;
#               RelWithDebInfo for `tsan`)
#   CMAKE_ARGS  extra arguments for the CMake configure step, split on spaces
#               (e.g. CMAKE_ARGS="-DMARGINSIM_SANITIZE=address,undefined")
#   JOBS        parallel build jobs (default: all cores)
set -euo pipefail

readonly packages=(
    build-essential cmake ninja-build pkg-config
    libeigen3-dev libboost-dev libboost-random-dev libtbb-dev
    catch2 libtomlplusplus-dev libcli11-dev libfmt-dev nlohmann-json3-dev libbenchmark-dev
)
# `test` only: headless Chromium renders the HTML reports in tests/test_html.cpp (100+ MB, so
# not installed for build or example; without it that test says it skipped the browser).
readonly test_packages=(chromium)
# `tsan`: the test stages that run the parallel code (the thread pool of simulate, detailed
# runs and sweeps, batch's worker threads, the CLI's --threads). The others are serial.
readonly tsan_stages=(simulate sweep batch cli)

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo_root"
command="${1:-build}"
if (($# > 0)); then shift; fi
if [[ "$command" == tsan ]]; then
    build_dir="${BUILD_DIR:-build-tsan}"
else
    build_dir="${BUILD_DIR:-build}"
fi

say() { printf 'setup: %s\n' "$*"; }
fail() { printf 'setup: error: %s\n' "$*" >&2; exit 1; }

usage() {
    cat <<'EOF'
usage: scripts/setup.sh [build | example [RUN-ARGS...] | test [CTEST-ARGS...] | tsan [CTEST-ARGS...] | help]
  build     (the default) install missing Debian packages, configure and build
  example   ... then run: <build>/marginsim run configs/seed_example.toml RUN-ARGS
  test      ... also install chromium (for the HTML report test), then run:
            ctest --output-on-failure -j2 CTEST-ARGS in the build directory
  tsan      build Debian's oneTBB source with -fsanitize=thread into <build>/onetbb-tsan
            (downloaded with apt-get source into private directories; reused when present),
            build marginsim with MARGINSIM_SANITIZE=thread against it and run the parallel
            test stages (simulate, sweep, batch, cli) under ThreadSanitizer
Environment: BUILD_DIR (default build; build-tsan for tsan), BUILD_TYPE (default Release;
RelWithDebInfo for tsan), CMAKE_ARGS, JOBS.
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

case "$command" in
    help | -h | --help)
        usage
        exit 0
        ;;
    build | example | test | tsan) ;;
    *)
        usage >&2
        exit 2
        ;;
esac

default_build_type=Release
wanted=("${packages[@]}")
if [[ "$command" == test ]]; then wanted+=("${test_packages[@]}"); fi
install_packages
if [[ "$command" == tsan ]]; then
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
esac
say "done"
