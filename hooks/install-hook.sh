#!/bin/sh
# install-hook.sh install|uninstall: put pvpanic-hook where libvirt runs
# qemu hooks, or take it away. Called by "make install-hook" and
# "make uninstall-hook" with:
#   HOOKDIR          libvirt's hook directory (configure --with-libvirt-hookdir)
#   TARGET           the installed binary the link points to ($sbindir/pvpanic-hook)
#   DESTDIR          staging root (may be empty)
#   LIBVIRT_VERSION  skip detection and assume this libvirt version (optional)
#
# libvirt >= 6.5 runs every executable in hooks/qemu.d/, so we add
# qemu.d/50-pvpanic next to whatever else is there. Older libvirt runs only
# hooks/qemu: we take that name only if it is free and never overwrite
# somebody else's script. Either way it is a symbolic link: the hook tells
# hook mode from CLI mode by the name it is run under.
set -eu

mode=${1:?usage: install-hook.sh install|uninstall}
: "${HOOKDIR:?}" "${TARGET:?}"
DESTDIR=${DESTDIR-}
dir=$DESTDIR$HOOKDIR

say() { printf 'install-hook: %s\n' "$*"; }

is_our_link() {
    [ -L "$1" ] && [ "$(readlink "$1")" = "$TARGET" ]
}

# "9.0.0" from "libvirtd (libvirt) 9.0.0"
detect_version() {
    for daemon in virtqemud libvirtd; do
        for path in "$(command -v "$daemon" 2>/dev/null || true)" \
                    "/usr/sbin/$daemon" "/usr/local/sbin/$daemon"; do
            [ -n "$path" ] && [ -x "$path" ] || continue
            v=$("$path" --version 2>/dev/null | awk '{ print $NF; exit }')
            case $v in
            [0-9]*.[0-9]*) echo "$v"; return 0 ;;
            esac
        done
    done
    return 1
}

# version_ge A B: A >= B for dotted numbers (major.minor)
version_ge() {
    a_major=${1%%.*}; a_rest=${1#*.}; a_minor=${a_rest%%.*}
    b_major=${2%%.*}; b_rest=${2#*.}; b_minor=${b_rest%%.*}
    [ "$a_major" -gt "$b_major" ] || { [ "$a_major" -eq "$b_major" ] && [ "$a_minor" -ge "$b_minor" ]; }
}

# any qemu hook libvirt would already run, other than ours
other_hooks_present() {
    if [ -e "$dir/qemu" ] && ! is_our_link "$dir/qemu"; then
        return 0
    fi
    for f in "$dir/qemu.d"/* "$dir/qemu.d"/.[!.]*; do
        [ -f "$f" ] && [ -x "$f" ] && ! is_our_link "$f" && return 0
    done
    return 1
}

reload_note() {
    if [ "$1" = fresh ]; then
        say "libvirt looks for qemu hooks when it starts or reloads, and no qemu hook"
        say "was there before: reload it now, e.g. 'systemctl reload libvirtd'"
        say "(or 'systemctl reload virtqemud' with the modular daemons)."
    else
        say "libvirt already runs qemu hooks from $HOOKDIR; no reload needed."
    fi
}

install_link() {
    link=$1
    mkdir -p "$(dirname "$link")"
    if is_our_link "$link"; then
        say "$link already points to $TARGET"
        return 0
    fi
    if [ -e "$link" ] || [ -L "$link" ]; then
        say "$link exists and is not a link to $TARGET; remove it first" >&2
        return 1
    fi
    ln -s "$TARGET" "$link"
    say "installed $link -> $TARGET"
}

case $mode in
install)
    [ -x "$DESTDIR$TARGET" ] || say "warning: $DESTDIR$TARGET is not installed yet" >&2
    version=${LIBVIRT_VERSION-}
    if [ -z "$version" ]; then
        if version=$(detect_version); then
            say "found libvirt $version"
        else
            version=
            say "found neither virtqemud nor libvirtd; assuming libvirt >= 6.5 (hooks/qemu.d)"
        fi
    fi
    state=fresh
    other_hooks_present && state=existing
    if [ -z "$version" ] || version_ge "$version" 6.5; then
        install_link "$dir/qemu.d/50-pvpanic"
    else
        if [ -e "$dir/qemu" ] || [ -L "$dir/qemu" ]; then
            if is_our_link "$dir/qemu"; then
                say "$dir/qemu already points to $TARGET"
                exit 0
            fi
            say "libvirt $version runs only $HOOKDIR/qemu, and that is somebody else's" >&2
            say "hook: not touching it. Call pvpanic-hook from it instead, e.g. near its top:" >&2
            say "    xml=\$(cat)" >&2
            say "    printf '%s' \"\$xml\" | $TARGET hook -- \"\$1\" \"\$2\" \"\$3\" \"\$4\" || exit \$?" >&2
            say "and give \"\$xml\" to the rest of the script instead of its stdin." >&2
            exit 1
        fi
        install_link "$dir/qemu"
    fi
    reload_note "$state"
    ;;
uninstall)
    for link in "$dir/qemu.d/50-pvpanic" "$dir/qemu"; do
        if is_our_link "$link"; then
            rm -f "$link"
            say "removed $link"
        fi
    done
    ;;
*)
    echo "usage: install-hook.sh install|uninstall" >&2
    exit 64
    ;;
esac
