#!/usr/bin/env bash
# Set up, build and run marginsim on Debian 12 (bookworm). Idempotent: packages already
# installed are left alone, and an existing build directory is reused.
#
#   scripts/setup.sh [build]    install what is missing, configure, build
#   scripts/setup.sh example    ... then run the article's example, configs/seed_example.toml
#   scripts/setup.sh test       ... then run the test suite (ctest)
#
# Arguments after `example` go to `marginsim run`, after `test` to ctest
# (e.g. `scripts/setup.sh example --paths 10000`, `scripts/setup.sh test -R scenario`).
#
# Environment:
#   BUILD_DIR   build directory (default: build, relative to the repository root)
#   BUILD_TYPE  CMake build type of a new build directory (default: Release)
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

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo_root"
build_dir="${BUILD_DIR:-build}"

say() { printf 'setup: %s\n' "$*"; }
fail() { printf 'setup: error: %s\n' "$*" >&2; exit 1; }

usage() {
    cat <<'EOF'
usage: scripts/setup.sh [build | example [RUN-ARGS...] | test [CTEST-ARGS...] | help]
  build     (the default) install missing Debian packages, configure and build
  example   ... then run: <build>/marginsim run configs/seed_example.toml RUN-ARGS
  test      ... also install chromium (for the HTML report test), then run:
            ctest --output-on-failure -j2 CTEST-ARGS in the build directory
Environment: BUILD_DIR (default build), BUILD_TYPE (default Release), CMAKE_ARGS, JOBS.
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
        args+=(-G Ninja "-DCMAKE_BUILD_TYPE=${BUILD_TYPE:-Release}")
    fi
    local extra=()
    read -r -a extra <<<"${CMAKE_ARGS:-}"
    say "configuring $build_dir"
    cmake "${args[@]}" "${extra[@]}"
}

build() {
    say "building $build_dir"
    cmake --build "$build_dir" --parallel "${JOBS:-$(nproc)}"
}

command="${1:-build}"
if (($# > 0)); then shift; fi
case "$command" in
    help | -h | --help)
        usage
        exit 0
        ;;
    build | example | test) ;;
    *)
        usage >&2
        exit 2
        ;;
esac

wanted=("${packages[@]}")
if [[ "$command" == test ]]; then wanted+=("${test_packages[@]}"); fi
install_packages
configure
build

case "$command" in
    example)
        say "running $build_dir/marginsim run configs/seed_example.toml $*"
        "$build_dir/marginsim" run configs/seed_example.toml "$@"
        ;;
    test)
        say "running the tests in $build_dir"
        ctest --test-dir "$build_dir" --output-on-failure -j2 --no-tests=error "$@"
        ;;
esac
say "done"
