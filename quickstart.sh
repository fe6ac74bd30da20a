#!/bin/bash
# quickstart.sh: set up and run pvpanic-tools on a fresh Debian 12 machine.
#
#   ./quickstart.sh demo   install build deps, build, patch a sample domain
#                          XML and audit the bundled sample libvirtd.log
#   ./quickstart.sh test   install everything the tests need (libvirt, QEMU,
#                          clang, valgrind, ...), then run the whole suite:
#                          -Werror build + make check, ASan+UBSan, valgrind,
#                          make distcheck, and the real libvirt end-to-end test
#
# Single stages for developers: deps, build, check, asan, valgrind,
# distcheck, fuzz-smoke, deb, e2e. Builds go to build/, build-asan/, build-vg/.
set -euo pipefail

top=$(cd "$(dirname "$0")" && pwd)
cd "$top"
jobs=$(nproc 2>/dev/null || echo 2)

say() { printf '\n=== %s\n' "$*"; }

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

BUILD_DEPS="build-essential autoconf autoconf-archive automake pkg-config
 libxml2-dev libpcre2-dev zlib1g-dev libcmocka-dev"
TEST_DEPS="clang libclang-rt-14-dev valgrind libxml2-utils man-db groff-base
 python3 gzip procps psmisc util-linux systemd prometheus prometheus-node-exporter
 bash-completion curl strace"
DEB_DEPS="dpkg-dev debhelper lintian fakeroot bash-completion"
E2E_DEPS="libvirt-daemon libvirt-daemon-driver-qemu libvirt-clients
 qemu-system-x86 busybox-static cpio tini"

apt_install() {
    local missing=()
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' \
            || missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    say "installing: ${missing[*]}"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
        --no-install-recommends "${missing[@]}"
}

bootstrap() {
    if [ ! -x configure ] || [ configure.ac -nt configure ]; then
        say "autoreconf"
        autoreconf -fi
    fi
}

# configure_in DIR [configure args...]: out-of-tree build directory
configure_in() {
    local dir=$1; shift
    mkdir -p "$dir"
    if [ ! -f "$dir/Makefile" ] || [ configure -nt "$dir/Makefile" ]; then
        (cd "$dir" && "$top/configure" "$@")
    fi
}

stage_deps()  { apt_install $BUILD_DEPS; }
stage_build() {
    bootstrap
    configure_in build --enable-werror
    say "make"
    make -C build -j"$jobs"
}
stage_check() {
    stage_build
    say "make check"
    make -C build -j"$jobs" check || { cat build/test-suite.log; return 1; }
}
stage_asan() {
    bootstrap
    configure_in build-asan --enable-werror CC=clang \
        CFLAGS="-O1 -g -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer" \
        LDFLAGS="-fsanitize=address,undefined"
    say "make check under ASan+UBSan"
    ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
        make -C build-asan -j"$jobs" check || { cat build-asan/test-suite.log; return 1; }
}
stage_valgrind() {
    bootstrap
    configure_in build-vg --enable-werror CFLAGS="-O1 -g"
    say "make check-valgrind"
    make -C build-vg -j"$jobs" check-valgrind || { cat build-vg/test-suite.log; return 1; }
}
stage_distcheck() {
    stage_build
    say "make distcheck"
    make -C build -j"$jobs" distcheck
}
stage_e2e() {
    stage_build
    if grep -q '^check-e2e:' build/Makefile; then
        say "end-to-end with a real libvirtd and QEMU guest"
        apt_install $E2E_DEPS
        make -C build check-e2e
    else
        say "no end-to-end suite in this tree yet"
    fi
}
stage_deb() {
    apt_install $BUILD_DEPS $DEB_DEPS python3 man-db groff-base procps
    say "Debian packages: build, lintian, install, run, purge"
    PVPANIC_PKG_TEST=1 bash tests/pkg/deb.sh
}
stage_fuzz_smoke() {
    bootstrap
    configure_in build-fuzz --enable-fuzzing CC=clang
    say "every libFuzzer target for ${FUZZ_SECONDS:-30} s"
    make -C build-fuzz -j"$jobs" fuzz FUZZ_SECONDS="${FUZZ_SECONDS:-30}" FUZZ_JOBS="$jobs"
}

stage_demo() {
    stage_deps
    stage_build
    say "pvpanic-hook patch share/samples/domain-nopanic.xml"
    ./build/hooks/pvpanic-hook patch share/samples/domain-nopanic.xml
    if [ -x build/parser/pvpanic-watch ]; then
        say "pvpanic-watch audit share/samples/libvirtd-sample.log.gz"
        rc=0
        ./build/parser/pvpanic-watch audit share/samples/libvirtd-sample.log.gz || rc=$?
        # exit 1 means "events found", which is what the sample holds
        [ "$rc" -le 1 ]
    fi
}

stage_test() {
    stage_deps
    apt_install $TEST_DEPS
    stage_check
    stage_asan
    stage_valgrind
    stage_distcheck
    apt_install clang libclang-rt-14-dev
    stage_fuzz_smoke
    stage_deb
    stage_e2e
    say "all tests passed"
}

case "${1:-}" in
    demo|test|deps|build|check|asan|valgrind|distcheck|e2e|deb) "stage_$1" ;;
    fuzz-smoke) stage_fuzz_smoke ;;
    *) sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
esac
