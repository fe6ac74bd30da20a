#!/bin/bash
# hook_install: make install-hook / uninstall-hook, only ever into a
# temporary DESTDIR; then hooks/install-hook.sh's cases one by one.
. "$abs_top_srcdir/tests/hook_testlib.sh"

SCRIPT="$abs_top_srcdir/hooks/install-hook.sh"
sbindir_target=/opt/pvpanic-test/sbin/pvpanic-hook
[ -n "$T" ] && [ -d "$T" ] || exit 99

# ---- through make, as a user runs it ---------------------------------------
dest="$T/dest"
mkdir -p "$dest"
# The parent make's jobserver descriptors are not ours to use.
unset MAKEFLAGS MFLAGS MAKELEVEL
make -s -C "$abs_top_builddir" install-hook DESTDIR="$dest" LIBVIRT_VERSION=9.0.0 \
    > "$T/make.out" 2>&1
check_eq "make install-hook: exit 0" 0 "$?"
# libvirthookdir may be built from other directories (distcheck): find it.
link=$(find "$dest" -name 50-pvpanic | head -1)
target=$(readlink "$link")
check "make install-hook: link created" test -L "$link"
check "make install-hook: in <hookdir>/qemu.d" bash -c "[[ '$link' == */libvirt/hooks/qemu.d/50-pvpanic ]]"
check "make install-hook: link is absolute, without DESTDIR" bash -c "[[ '$target' == /*/pvpanic-hook && '$target' != '$dest'* ]]"
check "make install-hook: it points to the installed binary" test -x "$dest$target"
check "make install-hook: man page installed" bash -c "find '$dest' -path '*/man8/pvpanic-hook.8' | grep -q ."
check "make install-hook: sample config installed" bash -c "find '$dest' -name hook.conf.sample | grep -q ."
check_grep "make install-hook: reload reminder" "reload it now" "$T/make.out"
# The installed program under the link's name is the hook.
ln -s "$dest$target" "$T/50-pvpanic"
write_conf "$T/refuse.conf" "on_missing = refuse" "log = stderr"
PVPANIC_HOOK_CONF=$T/refuse.conf "$T/50-pvpanic" web-01 prepare begin - \
    < "$DATA/domxml/x86-q35.in.xml" > /dev/null 2> "$T/err"
check_eq "installed binary under the hook name: hook mode" 1 "$?"
make -s -C "$abs_top_builddir" install-hook DESTDIR="$dest" LIBVIRT_VERSION=9.0.0 \
    > "$T/make2.out" 2>&1
check_eq "make install-hook twice: exit 0" 0 "$?"
check_grep "make install-hook twice: already there" "already points to" "$T/make2.out"
make -s -C "$abs_top_builddir" uninstall-hook DESTDIR="$dest" > "$T/make3.out" 2>&1
check_eq "make uninstall-hook: exit 0" 0 "$?"
check "make uninstall-hook: link removed" test ! -e "$link" -a ! -L "$link"
make -s -C "$abs_top_builddir" uninstall DESTDIR="$dest" > /dev/null 2>&1
check "make uninstall: binary removed" test ! -e "$dest$target"

# ---- the script's cases ---------------------------------------------------------
inst() { # DEST VERSION MODE
    DESTDIR=$1 HOOKDIR=/etc/libvirt/hooks TARGET=$sbindir_target LIBVIRT_VERSION=$2 \
        sh "$SCRIPT" "$3" > "$T/out" 2>&1
    rc=$?
}

d="$T/new"
inst "$d" 6.5.0 install
check_eq "libvirt 6.5: exit 0" 0 "$rc"
check_eq "libvirt 6.5: qemu.d link" "$sbindir_target" "$(readlink "$d/etc/libvirt/hooks/qemu.d/50-pvpanic")"
check "libvirt 6.5: hooks/qemu untouched" test ! -e "$d/etc/libvirt/hooks/qemu"
check_grep "first qemu hook: reload reminder" "systemctl reload libvirtd" "$T/out"

d="$T/busy"
mkdir -p "$d/etc/libvirt/hooks/qemu.d"
printf '#!/bin/sh\nexit 0\n' > "$d/etc/libvirt/hooks/qemu.d/10-other"
chmod 755 "$d/etc/libvirt/hooks/qemu.d/10-other"
inst "$d" 10.0.0 install
check_eq "next to another qemu.d hook: exit 0" 0 "$rc"
check_grep "next to another hook: no reload needed" "no reload needed" "$T/out"
check "next to another hook: it is untouched" test -x "$d/etc/libvirt/hooks/qemu.d/10-other"

d="$T/clash"
mkdir -p "$d/etc/libvirt/hooks/qemu.d"
echo "someone's file" > "$d/etc/libvirt/hooks/qemu.d/50-pvpanic"
inst "$d" 9.0.0 install
check_eq "qemu.d/50-pvpanic taken by a file: refused" 1 "$rc"
check_eq "qemu.d/50-pvpanic taken: file kept" "someone's file" "$(cat "$d/etc/libvirt/hooks/qemu.d/50-pvpanic")"

d="$T/old"
inst "$d" 6.0.0 install
check_eq "libvirt 6.0, no hooks/qemu: exit 0" 0 "$rc"
check_eq "libvirt 6.0: hooks/qemu link" "$sbindir_target" "$(readlink "$d/etc/libvirt/hooks/qemu")"
check "libvirt 6.0: no qemu.d" test ! -e "$d/etc/libvirt/hooks/qemu.d/50-pvpanic"
inst "$d" 6.0.0 uninstall
check "libvirt 6.0: uninstall removes hooks/qemu link" test ! -L "$d/etc/libvirt/hooks/qemu"

d="$T/old-busy"
mkdir -p "$d/etc/libvirt/hooks"
printf '#!/bin/sh\n# the site hook\nexit 0\n' > "$d/etc/libvirt/hooks/qemu"
chmod 755 "$d/etc/libvirt/hooks/qemu"
cp "$d/etc/libvirt/hooks/qemu" "$T/qemu.orig"
inst "$d" 5.0.0 install
check_eq "libvirt 5.0 with a hooks/qemu: refused" 1 "$rc"
check "libvirt 5.0: hooks/qemu never overwritten" cmp -s "$d/etc/libvirt/hooks/qemu" "$T/qemu.orig"
check_grep "libvirt 5.0: says how to chain" "$sbindir_target hook -- \"\$1\" \"\$2\" \"\$3\" \"\$4\"" "$T/out"
inst "$d" 5.0.0 uninstall
check "uninstall leaves somebody else's hooks/qemu" cmp -s "$d/etc/libvirt/hooks/qemu" "$T/qemu.orig"

d="$T/undetected"
mkdir -p "$T/emptybin"
DESTDIR=$d HOOKDIR=/etc/libvirt/hooks TARGET=$sbindir_target PATH="$T/emptybin:/usr/bin:/bin" \
    sh "$SCRIPT" install > "$T/out" 2>&1
check_eq "detection: exit 0" 0 "$?"
if [ -x /usr/sbin/libvirtd ] || [ -x /usr/sbin/virtqemud ]; then
    check_grep "detection: found the installed libvirt" "found libvirt" "$T/out"
else
    check_grep "detection: says it assumes qemu.d" "assuming libvirt >= 6.5" "$T/out"
fi
check "detection: a link was made" test -L "$d/etc/libvirt/hooks/qemu.d/50-pvpanic"

d="$T/mine-elsewhere"
mkdir -p "$d/etc/libvirt/hooks/qemu.d"
ln -s /usr/bin/true "$d/etc/libvirt/hooks/qemu.d/50-pvpanic"
inst "$d" 9.0.0 uninstall
check "uninstall keeps a link that is not ours" test -L "$d/etc/libvirt/hooks/qemu.d/50-pvpanic"

finish
