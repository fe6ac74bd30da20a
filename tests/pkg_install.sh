#!/bin/bash
# pkg_install: "make install DESTDIR=..." from the build tree installs
# exactly the expected files (programs, man pages, samples, examples,
# Prometheus rules, systemd unit, bash completion), "make install-config"
# never overwrites a config, and "make uninstall" leaves only empty
# directories (and a config the operator edited). A second install with
# prefix/sysconfdir overridden puts nothing outside them.
set -u
: "${abs_top_srcdir:?run through make check}" "${abs_top_builddir:?run through make check}"
T=$(mktemp -d "${TMPDIR:-/tmp}/pvpanic-inst.XXXXXX")
trap 'rm -rf "$T"' EXIT
fails=0
fail() { echo "FAIL - $*"; fails=$((fails + 1)); }

# A make of our own, not a job of the make check that runs us.
mk() {
    env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL -u MAKEOVERRIDES \
        make -s --no-print-directory -C "$abs_top_builddir" "$@"
}

eval "$(mk pkg-print-dirs)"
: "${sbindir:?}" "${mandir:?}" "${docdir:?}" "${pkgdatadir:?}" "${systemdsystemunitdir:?}" "${bashcompletiondir:?}"

expected_files() {   # $1 = root
    local r=$1
    printf '%s\n' \
        "$r$sbindir/pvpanic-hook" \
        "$r$sbindir/pvpanic-watch" \
        "$r$mandir/man5/pvpanic.conf.5" \
        "$r$mandir/man8/pvpanic-hook.8" \
        "$r$mandir/man8/pvpanic-watch.8" \
        "$r$docdir/README.md" \
        "$r$pkgdatadir/hook.conf.sample" \
        "$r$pkgdatadir/watch.conf.sample" \
        "$r$pkgdatadir/libvirtd-logging.conf" \
        "$r$pkgdatadir/samples/libvirtd-sample.log.gz" \
        "$r$pkgdatadir/examples/webhook-curl.sh" \
        "$r$pkgdatadir/prometheus/pvpanic.rules.yml" \
        "$r$systemdsystemunitdir/pvpanic-watch.service" \
        "$r$bashcompletiondir/pvpanic-hook" \
        "$r$bashcompletiondir/pvpanic-watch" | sort
}

# same_list WHAT EXPECTED-FILE ACTUAL-FILE
same_list() {
    if ! cmp -s "$2" "$3"; then
        fail "$1: installed files differ from the expected list (update tests/pkg_install.sh and debian/*.install):"
        diff "$2" "$3" | sed -n 's/^[<>]/    &/p' | sed 's/^    </    missing:/; s/^    >/    extra:  /'
    fi
}

R="$T/root"
mk install DESTDIR="$R" > "$T/install.log" 2>&1 || { cat "$T/install.log"; fail "make install failed"; exit 1; }
expected_files "$R" > "$T/expected"
find "$R" \( -type f -o -type l \) | sort > "$T/actual"
same_list "make install" "$T/expected" "$T/actual"

for p in "$R$sbindir/pvpanic-hook" "$R$sbindir/pvpanic-watch" "$R$pkgdatadir/examples/webhook-curl.sh"; do
    [ -x "$p" ] || fail "$p is not executable"
done
"$R$sbindir/pvpanic-watch" --version >/dev/null || fail "installed pvpanic-watch does not run"
unit="$R$systemdsystemunitdir/pvpanic-watch.service"
grep -q "^ExecStart=$sbindir/pvpanic-watch follow -c $sysconfdir/pvpanic/watch.conf" "$unit" ||
    fail "the unit does not run $sbindir/pvpanic-watch with $sysconfdir/pvpanic/watch.conf"
grep -q '@[a-z]*@' "$unit" && fail "unsubstituted @...@ in the unit"
gzip -dc "$R$mandir/man8/pvpanic-watch.8" >/dev/null 2>&1 || [ -s "$R$mandir/man8/pvpanic-watch.8" ] ||
    fail "empty man page"

# install-config: installs the samples once, never overwrites.
mk install-config DESTDIR="$R" > "$T/ic.log" 2>&1 || fail "make install-config failed: $(cat "$T/ic.log")"
etc="$R$sysconfdir/pvpanic"
cmp -s "$etc/hook.conf" "$abs_top_srcdir/share/hook.conf.sample" || fail "install-config: hook.conf"
cmp -s "$etc/watch.conf" "$abs_top_srcdir/share/watch.conf.sample" || fail "install-config: watch.conf"
[ "$(stat -c %a "$etc/watch.conf")" = 640 ] || fail "watch.conf mode $(stat -c %a "$etc/watch.conf"), want 640"
[ "$(stat -c %a "$etc/hook.conf")" = 644 ] || fail "hook.conf mode $(stat -c %a "$etc/hook.conf"), want 644"
echo "on_missing = warn" >> "$etc/hook.conf"
cp "$etc/hook.conf" "$T/edited"
mk install-config DESTDIR="$R" > "$T/ic2.log" 2>&1 || fail "second make install-config failed"
cmp -s "$etc/hook.conf" "$T/edited" || fail "install-config overwrote an edited hook.conf"
grep -q "keeping the existing" "$T/ic2.log" || fail "install-config did not say it kept the configs"

# uninstall: nothing but empty directories and the edited config.
mk uninstall DESTDIR="$R" > "$T/uninstall.log" 2>&1 || { cat "$T/uninstall.log"; fail "make uninstall failed"; }
find "$R" \( -type f -o -type l \) | sort > "$T/left"
printf '%s\n' "$etc/hook.conf" > "$T/want_left"
same_list "after make uninstall" "$T/want_left" "$T/left"
cmp -s "$etc/hook.conf" "$T/edited" || fail "uninstall changed the edited hook.conf"

# --prefix / --sysconfdir honoured: nothing lands outside them.
R2="$T/root2"
mk install DESTDIR="$R2" prefix=/opt/pvpanic sysconfdir=/etc/opt/pvpanic \
    systemdsystemunitdir=/opt/pvpanic/lib/systemd/system > "$T/install2.log" 2>&1 ||
    { cat "$T/install2.log"; fail "make install prefix=/opt/pvpanic failed"; }
outside=$(cd "$R2" && find . \( -type f -o -type l \) ! -path './opt/pvpanic/*' ! -path './etc/opt/pvpanic/*')
[ -z "$outside" ] || fail "installed outside prefix and sysconfdir: $outside"
[ -f "$R2/opt/pvpanic/share/bash-completion/completions/pvpanic-watch" ] ||
    fail "bash completion not under the prefix"
[ "$(cd "$R2" && find . \( -type f -o -type l \) | wc -l)" -eq "$(wc -l < "$T/expected")" ] ||
    fail "prefix=/opt/pvpanic installed another number of files"
mk uninstall DESTDIR="$R2" prefix=/opt/pvpanic sysconfdir=/etc/opt/pvpanic \
    systemdsystemunitdir=/opt/pvpanic/lib/systemd/system > "$T/uninstall2.log" 2>&1 || fail "uninstall 2"
[ -z "$(find "$R2" \( -type f -o -type l \))" ] || fail "uninstall with prefix=/opt/pvpanic left files"

if [ "$fails" -gt 0 ]; then
    echo "FAIL - $fails install check(s) failed"
    exit 1
fi
echo "ok - make install/install-config/uninstall with DESTDIR: $(wc -l < "$T/expected") files, nothing left behind"
