# shellcheck shell=bash
# tests/e2e/lib.sh: the machinery of the end-to-end suite, sourced by run.sh
# and make-fixtures.sh. It runs a PRIVATE libvirtd (own socket dir, pid file
# and log file) under `tini -s`, boots tiny Linux guests (Debian kernel +
# busybox initramfs) under QEMU TCG and makes them panic.
#
# Everything it changes outside its temporary directory is restored on exit,
# also on failure and on SIGINT/SIGTERM:
#   /etc/libvirt/hooks/      snapshot taken before, restored exactly after
#   /etc/libvirt/qemu.conf   written for the run, previous content restored
#   domains                  only ours (marked by E2E_MARK), destroyed+undefined
#   /var/log/libvirt/qemu/   only our domains' logs, copied then removed
# Facts and pitfalls: ../../../shared/reference/e2e-libvirt.md (see README).

E2E_MARK="pvpanic-tools e2e test domain"
E2E_NAME_PREFIX="pve2e-"
E2E_T0=$(date +%s.%N)

# ---------------------------------------------------------------- logging

e2e_elapsed() {
    local now
    now=$(date +%s.%N)
    awk -v a="$E2E_T0" -v b="$now" 'BEGIN { printf "%7.1f", b - a }'
}

# log MSG...: one step line on stderr, "HH:MM:SS.mmm [elapsed] MSG"
log() {
    printf '%s [%ss] %s\n' "$(date +%T.%3N)" "$(e2e_elapsed)" "$*" >&2
}

# fail MSG...: end the current scenario (they run in subshells) as failed
fail() {
    log "FAIL: $*"
    exit 1
}

# skip MSG...: the environment cannot run this; a failure when CI=true
skip() {
    if [ "${CI:-}" = true ]; then
        log "FAIL (CI=true, a skip is a failure): $*"
        exit 1
    fi
    log "SKIP: $*"
    exit 77
}

now_ms() { date +%s%3N; }

# record_time METRIC SECONDS: remembered for the summary at the end
record_time() {
    printf '%s\t%s\n' "$1" "$2" >>"$E2E_WORK/timings"
    case $1 in
    *_ms\[*|*_ms) log "time: $1 = $2 ms" ;;
    *) log "time: $1 = ${2}s" ;;
    esac
}

ms_to_s() { awk -v m="$1" 'BEGIN { printf "%.2f", m / 1000 }'; }

# ---------------------------------------------------------------- paths

# The source tree is two levels up from this file; the build tree comes from
# make (abs_top_builddir) or --builddir, else it is the current directory
# when that is a configured build tree, else the source tree.
e2e_paths() {
    E2E_SRCDIR=${abs_top_srcdir:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
    if [ -z "${E2E_BUILDDIR:-}" ]; then
        if [ -n "${abs_top_builddir:-}" ]; then
            E2E_BUILDDIR=$abs_top_builddir
        elif [ -f Makefile ] && grep -q '^check-e2e:' Makefile 2>/dev/null; then
            E2E_BUILDDIR=$PWD
        else
            E2E_BUILDDIR=$E2E_SRCDIR
        fi
    fi
    E2E_CACHE=${PVPANIC_E2E_CACHE:-/var/cache/pvpanic-tools-e2e}
    HOOK_BIN=$E2E_BUILDDIR/hooks/pvpanic-hook
    WATCH_BIN=$E2E_BUILDDIR/parser/pvpanic-watch
    LOGGING_SNIPPET=$E2E_SRCDIR/share/libvirtd-logging.conf
}

# ---------------------------------------------------------------- prerequisites

E2E_COMMANDS="libvirtd virsh qemu-system-x86_64 tini cpio gzip dpkg-deb apt-get
 apt-cache timeout setsid flock awk sed"

# check_prereqs: root, the Debian packages of the quickstart, a free host.
# Misses are a skip (exit 77) unless CI=true.
check_prereqs() {
    local c missing=""
    [ "$(id -u)" -eq 0 ] || skip "must run as root (it runs a system-mode libvirtd)"
    for c in $E2E_COMMANDS; do
        command -v "$c" >/dev/null 2>&1 || missing="$missing $c"
    done
    [ -x /bin/busybox ] || missing="$missing /bin/busybox(busybox-static)"
    [ -z "$missing" ] || skip "missing:$missing (apt-get install libvirt-daemon" \
        "libvirt-daemon-driver-qemu libvirt-clients qemu-system-x86 busybox-static cpio tini)"
    # Two system-mode daemons would share /run/libvirt/qemu and
    # /etc/libvirt/qemu: never run next to a real one.
    if pgrep -u 0 -x libvirtd >/dev/null || pgrep -u 0 -x virtqemud >/dev/null; then
        skip "a system libvirtd/virtqemud is already running on this host; stop it first"
    fi
    # Our daemon uses the system config dirs: it would load (and autostart!)
    # the host's own domains. Only run where there are none but ours.
    local f
    for f in /etc/libvirt/qemu/*.xml; do
        [ -e "$f" ] || continue
        grep -qF "<description>$E2E_MARK<" "$f" ||
            skip "this host has libvirt domains ($f): run the end-to-end suite on a test machine"
    done
}

# take_lock: one run at a time on a host. The lock is fd 9 of the main
# shell; long-lived children are started with 9>&- so that none of them
# keeps the lock after the run.
take_lock() {
    exec 9>/run/pvpanic-tools-e2e.lock
    flock -n 9 || skip "another end-to-end run holds /run/pvpanic-tools-e2e.lock"
}

# ---------------------------------------------------------------- work dir + cleanup

# e2e_setup: temp dir, traps, timeout watchdog. Call once from the main shell.
e2e_setup() {
    E2E_WORK=$(mktemp -d /tmp/pvpanic-e2e.XXXXXX)
    # QEMU runs as libvirt-qemu and reads the kernel/initramfs from here.
    chmod 755 "$E2E_WORK"
    mkdir -p "$E2E_WORK/run" "$E2E_WORK/guest" "$E2E_WORK/console" "$E2E_WORK/state"
    : >"$E2E_WORK/timings"
    : >"$E2E_WORK/domains"
    E2E_URI="qemu:///system?socket=$E2E_WORK/run/libvirt-sock"
    E2E_LOG=$E2E_WORK/libvirtd.log
    export E2E_WORK E2E_URI E2E_LOG
    E2E_MAIN_PID=$BASHPID
    trap 'e2e_on_signal INT' INT
    trap 'e2e_on_signal TERM' TERM
    trap 'e2e_on_signal HUP' HUP
    trap 'e2e_cleanup' EXIT
    local limit=${E2E_TIMEOUT:-1200}
    # Every virsh call is bounded by `timeout`, so the TERM below reaches the
    # main shell's trap within a minute even when a step hangs.
    ( trap - EXIT INT HUP
      exec 9>&-
      sleep "$limit" &
      sleeper=$!
      echo "$sleeper" >"$E2E_WORK/state/watchdog-sleep.pid"
      trap 'kill "$sleeper" 2>/dev/null; exit 0' TERM
      wait "$sleeper" && {
          printf '%s global timeout of %ss reached, aborting\n' "$(date +%T)" "$limit" >&2
          touch "$E2E_WORK/state/timed-out"
          kill -TERM "$E2E_MAIN_PID"
      } ) </dev/null >/dev/null &
    E2E_WATCHDOG_PID=$!
    log "work dir $E2E_WORK, global timeout ${limit}s"
}

e2e_on_signal() {
    if [ -n "${E2E_SCENARIO_PGID:-}" ]; then
        kill -TERM -- "-$E2E_SCENARIO_PGID" 2>/dev/null
    fi
    E2E_FAILED=1
    if [ -e "$E2E_WORK/state/timed-out" ]; then
        log "global timeout: scenario stopped, cleaning up"
        exit 1
    fi
    log "caught SIG$1, cleaning up"
    exit 130
}

# Set E2E_FAILED=1 before exiting to keep the artifacts.
E2E_FAILED=0

e2e_cleanup() {
    local rc=$?
    trap - EXIT INT TERM HUP
    # 77 = the environment cannot run the suite: nothing to keep
    [ "$rc" -ne 0 ] && [ "$rc" -ne 77 ] && E2E_FAILED=1
    [ -n "${E2E_WATCHDOG_PID:-}" ] && kill "$E2E_WATCHDOG_PID" 2>/dev/null
    [ -n "${E2E_WORK:-}" ] && kill "$(cat "$E2E_WORK/state/watchdog-sleep.pid" 2>/dev/null)" 2>/dev/null
    [ -n "${E2E_WORK:-}" ] && [ -d "$E2E_WORK" ] || exit "$rc"
    log "cleanup"
    stop_all_followers
    remove_all_domains
    stop_daemon
    kill_leftover_qemu
    local keep=""
    if [ "$E2E_FAILED" -ne 0 ] || [ -n "${E2E_KEEP:-}" ]; then
        save_artifacts
        keep=${E2E_ARTIFACTS:-$E2E_WORK/artifacts}
    fi
    remove_domain_logs
    restore_host_files
    if [ -n "${E2E_KEEP:-}" ]; then
        log "E2E_KEEP: work dir kept in $E2E_WORK"
    elif [ -n "$keep" ] && [ "$keep" = "$E2E_WORK/artifacts" ]; then
        find "$E2E_WORK" -mindepth 1 -maxdepth 1 ! -path "$keep" -exec rm -rf {} +
    else
        rm -rf "$E2E_WORK"
    fi
    exit "$rc"
}

# ---------------------------------------------------------------- host files

# host_backup PATH: remember PATH (file or directory, or its absence) so
# that restore_host_files puts it back exactly. Safe to call from a
# scenario subshell (the index is a file); the first backup of a path wins.
host_backup() {
    local b=$E2E_WORK/host-backup path=$1 n
    mkdir -p "$b"
    touch "$b/index"
    if cut -f2 "$b/index" | grep -cxF -- "$path" >/dev/null; then
        return 0
    fi
    n=$(($(wc -l <"$b/index") + 1))
    if [ -e "$path" ] || [ -L "$path" ]; then
        cp -a "$path" "$b/$n" || fail "cannot back up $path"
        printf '%s\t%s\tpresent\n' "$n" "$path" >>"$b/index"
    else
        printf '%s\t%s\tabsent\n' "$n" "$path" >>"$b/index"
    fi
}

# The state directories a system-mode libvirtd creates. Those that do not
# exist before the run are removed after it (those that exist are left as
# they are: they may be big, and we only ever add our own domains there).
E2E_DAEMON_DIRS="/etc/libvirt/qemu /etc/libvirt/nwfilter /etc/libvirt/secrets
 /etc/libvirt/storage /var/lib/libvirt /var/log/libvirt /var/cache/libvirt /run/libvirt"

# snapshot_host_files: back up what every run changes
snapshot_host_files() {
    local d
    for d in $E2E_DAEMON_DIRS; do
        [ -e "$d" ] || host_backup "$d"
    done
    host_backup /etc/libvirt/hooks
    host_backup /etc/libvirt/qemu.conf
    [ -e /etc/libvirt/hooks/qemu ] &&
        log "NOTE: /etc/libvirt/hooks/qemu exists here; it is left in place and runs too"
    touch "$E2E_WORK/host-backup/complete"
}

# restore_host_files: put every backed-up path back as it was, newest first
restore_host_files() {
    local b=$E2E_WORK/host-backup n path state
    [ -e "$b/complete" ] || return 0
    while IFS=$'\t' read -r n path state; do
        if [ "$state" = absent ]; then
            rm -rf -- "$path"
            continue
        fi
        if ! diff -r --no-dereference -- "$b/$n" "$path" >/dev/null 2>&1; then
            rm -rf -- "$path" && cp -a -- "$b/$n" "$path" &&
                diff -r --no-dereference -- "$b/$n" "$path" >/dev/null ||
                { cp -a -- "$b/$n" "/var/tmp/pvpanic-e2e-backup.$$.$n" 2>/dev/null
                  log "ERROR: could not restore $path; its backup: /var/tmp/pvpanic-e2e-backup.$$.$n"
                  E2E_FAILED=1; }
        fi
    done < <(tac "$b/index")
    if [ -s "$b/dev-kvm" ] && [ -c /dev/kvm ]; then
        local mode owner group
        read -r mode owner group <"$b/dev-kvm"
        chown "$owner:$group" /dev/kvm && chmod "$mode" /dev/kvm
    fi
    log "restored $(cut -f2 "$b/index" | tr '\n' ' ')"
}

# ---------------------------------------------------------------- guest assets

# guest_kernel: the Debian kernel (vmlinuz + the pvpanic modules) in the cache
# dir; downloaded with apt-get download and unpacked with dpkg-deb, never
# installed. Sets GUEST_KERNEL and GUEST_MODDIR.
guest_kernel() {
    local pkg dir tmp deb
    pkg=${PVPANIC_E2E_KERNEL_PKG:-$(resolve_kernel_pkg)}
    if [ -z "$pkg" ]; then
        # no package lists: refresh them once (a fresh machine), else use any
        # kernel already in the cache
        log "apt-cache knows no linux-image-amd64: apt-get update"
        apt-get update -q >/dev/null 2>&1
        pkg=$(resolve_kernel_pkg)
    fi
    if [ -z "$pkg" ]; then
        dir=$(ls -d "$E2E_CACHE"/linux-image-*/ 2>/dev/null | tail -n 1)
        [ -n "$dir" ] || skip "cannot resolve linux-image-amd64 (apt-get update failed?) and no cached kernel"
        pkg=$(basename "$dir")
    fi
    dir=$E2E_CACHE/$pkg
    if [ ! -s "$dir/vmlinuz" ] || [ ! -s "$dir/modules/pvpanic-mmio.ko" ]; then
        log "fetching guest kernel $pkg into $dir"
        mkdir -p "$E2E_CACHE"
        tmp=$(mktemp -d "$E2E_CACHE/dl.XXXXXX")
        # apt drops privileges to _apt for downloads; let it write here
        id _apt >/dev/null 2>&1 && chown _apt "$tmp"
        if ! (cd "$tmp" && apt-get download -q "$pkg" >/dev/null 2>&1); then
            # stale lists name a version the mirror no longer has
            apt-get update -q >/dev/null 2>&1
            (cd "$tmp" && apt-get download -q "$pkg" >/dev/null) ||
                { rm -rf "$tmp"; skip "apt-get download $pkg failed"; }
        fi
        deb=$(ls "$tmp"/*.deb)
        mkdir -p "$tmp/x"
        dpkg-deb --fsys-tarfile "$deb" |
            tar -x -C "$tmp/x" --wildcards './boot/vmlinuz-*' '*/drivers/misc/pvpanic/*.ko' ||
            { rm -rf "$tmp"; fail "unpacking $deb failed"; }
        rm -rf "$dir"
        mkdir -p "$dir/modules"
        cp "$tmp"/x/boot/vmlinuz-* "$dir/vmlinuz"
        find "$tmp/x" -path '*/pvpanic/*.ko' -exec cp {} "$dir/modules/" \;
        rm -rf "$tmp"
        chmod -R a+rX "$E2E_CACHE"
    fi
    [ -s "$dir/modules/pvpanic.ko" ] || fail "no pvpanic.ko in $pkg"
    GUEST_KERNEL=$dir/vmlinuz
    GUEST_MODDIR=$dir/modules
    GUEST_KERNEL_PKG=$pkg
}

resolve_kernel_pkg() {
    apt-cache depends linux-image-amd64 2>/dev/null |
        awk '/Depends: linux-image-[0-9]/ { print $2; exit }'
}

# The guest's /init. The kernel command-line word pvmode= picks the mode:
#   panic  panic at once (sysrq c) after loading pvpanic
#   nmi    set kernel.unknown_nmi_panic=1, announce READY, wait for an NMI
#   idle   leave unknown_nmi_panic=0 (NMIs are logged and ignored), idle
# Lines starting with "PVE2E " on the serial console tell the harness where
# the guest is.
guest_init_script() {
    cat <<'EOF'
#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
for m in pvpanic pvpanic-mmio pvpanic-pci; do
    insmod /lib/modules/$m.ko || echo "PVE2E insmod $m failed"
done
bound=no
[ -e /sys/bus/platform/drivers/pvpanic-mmio/QEMU0001:00 ] && bound=isa
ls /sys/bus/pci/drivers/pvpanic-pci 2>/dev/null | grep -q ':' && bound=pci
echo "PVE2E pvpanic bound: $bound"
mode=idle
for w in $(cat /proc/cmdline); do
    case $w in pvmode=*) mode=${w#pvmode=} ;; esac
done
case $mode in
panic)
    echo "PVE2E PANIC NOW"
    echo c > /proc/sysrq-trigger ;;
nmi)
    echo 1 > /proc/sys/kernel/unknown_nmi_panic
    echo "PVE2E READY nmi" ;;
*)
    echo 0 > /proc/sys/kernel/unknown_nmi_panic
    echo "PVE2E READY idle" ;;
esac
while :; do sleep 3600; done
EOF
}

# guest_initramfs: build a ~1 MB busybox initramfs in the work dir.
# Sets GUEST_INITRD.
guest_initramfs() {
    local root=$E2E_WORK/guest/root
    rm -rf "$root"
    mkdir -p "$root/bin" "$root/proc" "$root/sys" "$root/dev" "$root/lib/modules"
    cp /bin/busybox "$root/bin/busybox"
    cp "$GUEST_MODDIR"/*.ko "$root/lib/modules/"
    guest_init_script >"$root/init"
    chmod 755 "$root/init"
    GUEST_INITRD=$E2E_WORK/guest/initrd.gz
    (cd "$root" && find . -print0 | cpio --null -o -H newc --owner 0:0 --quiet) |
        gzip -6 >"$GUEST_INITRD"
    chmod 644 "$GUEST_INITRD"
    log "guest: $GUEST_KERNEL_PKG, initramfs $(stat -c %s "$GUEST_INITRD") bytes"
}

prepare_guest() {
    guest_kernel
    guest_initramfs
}

# ---------------------------------------------------------------- daemon

# The log filters of a daemon run, by level:
#   shipped      the log_filters line of the snippet the project ships
#                (share/libvirtd-logging.conf), else E2E_BROAD_DEBUG_FILTERS
#                (what run.sh uses: the setting operators are told to use)
#   recommended  the shipped line; fails if the snippet is missing
#   debug        E2E_BROAD_DEBUG_FILTERS (issue 5), independent of share/
#   info         "2:qemu 3:*"
E2E_BROAD_DEBUG_FILTERS="1:qemu 1:libvirt 3:object 3:json 3:event 3:util 3:rpc"
E2E_INFO_FILTERS="2:qemu 3:*"

shipped_log_filters() {
    [ -r "$LOGGING_SNIPPET" ] || return 1
    # the first uncommented log_filters = "..." line
    sed -n 's/^[[:space:]]*log_filters[[:space:]]*=[[:space:]]*"\([^"]*\)".*/\1/p' \
        "$LOGGING_SNIPPET" | head -n 1 | grep .
}

log_filters_for() {
    case $1 in
    info) echo "$E2E_INFO_FILTERS" ;;
    debug) echo "$E2E_BROAD_DEBUG_FILTERS" ;;
    recommended) shipped_log_filters || fail "no log_filters line in $LOGGING_SNIPPET" ;;
    shipped) shipped_log_filters || echo "$E2E_BROAD_DEBUG_FILTERS" ;;
    *) fail "log_filters_for: unknown level $1" ;;
    esac
}

# ensure_qemu_user: the QEMU driver refuses to start without the user and the
# group libvirt-qemu (Debian's build defaults), as libvirt-daemon-system
# would create them
ensure_qemu_user() {
    getent group kvm >/dev/null || groupadd -r kvm
    if ! getent group libvirt-qemu >/dev/null; then
        groupadd -r libvirt-qemu
        log "created system group libvirt-qemu"
    fi
    if ! getent passwd libvirt-qemu >/dev/null; then
        useradd -r -g libvirt-qemu -G kvm -d /var/lib/libvirt -s /usr/sbin/nologin libvirt-qemu
        log "created system user libvirt-qemu"
    fi
}

# ensure_kvm_node_access: when /dev/kvm exists but the QEMU user cannot open
# it (root:root 0600 on hosts without the udev rule), libvirt finds the
# capabilities it probed (KVM usable) stale at every call and probes QEMU
# again: each `virsh define` then takes ~7 s. Give it Debian's usual
# root:kvm 0660 for the run; restore_host_files puts the old mode back.
ensure_kvm_node_access() {
    [ -c /dev/kvm ] || return 0
    stat -c '%a %U %G' /dev/kvm >"$E2E_WORK/host-backup/dev-kvm"
    if [ "$(stat -c '%G' /dev/kvm)" != kvm ] || [ $((0$(stat -c '%a' /dev/kvm) & 060)) -ne 060 ]; then
        chgrp kvm /dev/kvm && chmod g+rw /dev/kvm
        log "/dev/kvm: $(cat "$E2E_WORK/host-backup/dev-kvm") -> $(stat -c '%a %U %G' /dev/kvm) for the run"
    fi
}

write_qemu_conf() {
    cat >/etc/libvirt/qemu.conf <<EOF
# written by pvpanic-tools tests/e2e for the duration of a run (restored after)
security_driver = "none"
cgroup_controllers = [ ]
stdio_handler = "file"
user = "libvirt-qemu"
group = "libvirt-qemu"
EOF
}

# start_daemon [LEVEL] [LOGFILE]: a private libvirtd under tini -s
# (LEVEL: see log_filters_for; default shipped)
start_daemon() {
    local level=${1:-shipped} logfile=${2:-$E2E_LOG} filters conf i t0
    filters=$(log_filters_for "$level")
    conf=$E2E_WORK/libvirtd.conf
    cat >"$conf" <<EOF
unix_sock_dir = "$E2E_WORK/run"
unix_sock_group = "root"
unix_sock_rw_perms = "0770"
auth_unix_rw = "none"
auth_unix_ro = "none"
log_outputs = "1:file:$logfile"
log_filters = "$filters"
EOF
    echo "$logfile" >"$E2E_WORK/state/daemon-log"
    echo "$level" >"$E2E_WORK/state/daemon-level"
    rm -f "$E2E_WORK/run/libvirt-sock"
    t0=$(now_ms)
    setsid tini -s -- libvirtd -f "$conf" -p "$E2E_WORK/run/libvirtd.pid" \
        </dev/null >>"$E2E_WORK/libvirtd.stderr" 2>&1 9>&- &
    echo $! >"$E2E_WORK/state/tini.pid"
    log "libvirtd starting (tini pid $!, filters \"$filters\", log $logfile)"
    for ((i = 0; i < 1200; i++)); do
        if [ -S "$E2E_WORK/run/libvirt-sock" ] &&
            timeout 20 virsh -q -c "$E2E_URI" version >/dev/null 2>&1; then
            record_time "daemon_start" "$(ms_to_s $(($(now_ms) - t0)))"
            start_event_listener
            return 0
        fi
        pid_alive "$(cat "$E2E_WORK/state/tini.pid")" ||
            { tail -n 20 "$E2E_WORK/libvirtd.stderr" >&2; fail "libvirtd exited at start"; }
        sleep 0.1
    done
    fail "libvirtd did not answer within 120 s"
}

pid_alive() {
    local st
    [ -n "$1" ] && [ -e "/proc/$1/stat" ] || return 1
    st=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1)
    [ -n "$st" ] && [ "$st" != Z ]
}

daemon_pid() {
    cat "$E2E_WORK/run/libvirtd.pid" 2>/dev/null
}

# stop_daemon: SIGTERM by pid, wait until it is gone (KILL after 30 s)
stop_daemon() {
    local pid tpid i
    pid=$(daemon_pid)
    tpid=$(cat "$E2E_WORK/state/tini.pid" 2>/dev/null)
    [ -n "$pid" ] || [ -n "$tpid" ] || return 0
    stop_event_listener
    if [ -n "$pid" ] && pid_alive "$pid"; then
        kill -TERM "$pid" 2>/dev/null || true
        for ((i = 0; i < 300; i++)); do pid_alive "$pid" || break; sleep 0.1; done
        if pid_alive "$pid"; then
            log "libvirtd $pid ignored SIGTERM for 30 s, killing it"
            kill -KILL "$pid"
        fi
    fi
    if [ -n "$tpid" ]; then
        for ((i = 0; i < 100; i++)); do pid_alive "$tpid" || break; sleep 0.1; done
        pid_alive "$tpid" && kill -KILL "$tpid" 2>/dev/null
        wait "$tpid" 2>/dev/null || true
    fi
    rm -f "$E2E_WORK/state/tini.pid" "$E2E_WORK/run/libvirtd.pid"
    log "libvirtd stopped"
}

# restart_daemon [rotate]: stop and start again with the same level and log;
# with "rotate", the log is renamed to .1 first, as logrotate would.
restart_daemon() {
    local logfile level
    logfile=$(cat "$E2E_WORK/state/daemon-log")
    level=$(cat "$E2E_WORK/state/daemon-level")
    stop_daemon
    if [ "${1:-}" = rotate ]; then
        local i
        for i in 8 7 6 5 4 3 2 1; do
            [ -f "$logfile.$i" ] && mv "$logfile.$i" "$logfile.$((i + 1))"
        done
        mv "$logfile" "$logfile.1"
        log "rotated $logfile -> .1"
    fi
    start_daemon "$level" "$logfile"
}

# sighup_daemon: make libvirtd re-scan /etc/libvirt/hooks
sighup_daemon() {
    kill -HUP "$(daemon_pid)"
    sleep 1
    timeout 20 virsh -q -c "$E2E_URI" version >/dev/null || fail "libvirtd gone after SIGHUP"
}

# ---------------------------------------------------------------- virsh

# v ARGS...: virsh on the private daemon, bounded in time
v() {
    timeout "${VIRSH_TIMEOUT:-60}" virsh -q -c "$E2E_URI" "$@"
}

# ---------------------------------------------------------------- domains

xml_escape() {
    # sed, not ${s//&/...}: bash 5.2 expands & in a replacement (patsub_replacement)
    printf '%s' "$1" | sed -e 's/&/\&amp;/g' -e 's/</\&lt;/g' -e 's/>/\&gt;/g' \
        -e 's/"/\&quot;/g' -e "s/'/\\&apos;/g"
}

# slug NAME: a file-name-safe form of a domain name (for console files)
slug() {
    printf '%s' "$1" | tr -c 'A-Za-z0-9._-' '_' | cut -c1-60
}

new_uuid() { cat /proc/sys/kernel/random/uuid; }

# domain_xml NAME MODE: the XML of a test domain. Options as variables:
#   DOM_PANIC    isa (default) | none | hyperv | isa-iobase
#   DOM_ACPI     yes (default) | no
#   DOM_ONCRASH  preserve (default) | destroy | restart | ...
#   DOM_UUID     (default: new)   DOM_MEM (MiB, default 192)
# The console goes to $E2E_WORK/console/<slug>.log.
domain_xml() {
    local name=$1 mode=$2 panic=${DOM_PANIC:-isa} acpi=${DOM_ACPI:-yes}
    local uuid=${DOM_UUID:-$(new_uuid)} mem=${DOM_MEM:-192} on_crash=${DOM_ONCRASH:-preserve}
    local console=$E2E_WORK/console/$(slug "$name").log
    printf '<domain type=%s>\n' "'qemu'"
    printf '  <name>%s</name>\n' "$(xml_escape "$name")"
    printf '  <uuid>%s</uuid>\n' "$uuid"
    printf '  <description>%s</description>\n' "$E2E_MARK"
    printf "  <memory unit='MiB'>%s</memory>\n" "$mem"
    printf '  <vcpu>1</vcpu>\n'
    printf '  <os>\n'
    printf "    <type arch='x86_64' machine='pc'>hvm</type>\n"
    printf '    <kernel>%s</kernel>\n' "$GUEST_KERNEL"
    printf '    <initrd>%s</initrd>\n' "$GUEST_INITRD"
    printf '    <cmdline>console=ttyS0 panic=0 pvmode=%s</cmdline>\n' "$mode"
    printf '  </os>\n'
    [ "$acpi" = yes ] && printf '  <features>\n    <acpi/>\n  </features>\n'
    printf '  <on_poweroff>destroy</on_poweroff>\n'
    printf '  <on_reboot>restart</on_reboot>\n'
    printf '  <on_crash>%s</on_crash>\n' "$on_crash"
    printf '  <devices>\n'
    printf '    <emulator>/usr/bin/qemu-system-x86_64</emulator>\n'
    printf "    <serial type='file'>\n      <source path='%s'/>\n      <target port='0'/>\n    </serial>\n" \
        "$(xml_escape "$console")"
    printf "    <controller type='usb' model='none'/>\n"
    printf "    <memballoon model='none'/>\n"
    case $panic in
    isa) printf "    <panic model='isa'/>\n" ;;
    isa-iobase) printf "    <panic model='isa'>\n      <address type='isa' iobase='0x505'/>\n    </panic>\n" ;;
    hyperv) printf "    <panic model='hyperv'/>\n" ;;
    none) ;;
    *) fail "domain_xml: unknown DOM_PANIC=$panic" ;;
    esac
    printf '  </devices>\n'
    printf '</domain>\n'
}

# register_domain NAME: remember it for cleanup and artifacts
register_domain() {
    grep -qxF -- "$1" "$E2E_WORK/domains" || printf '%s\n' "$1" >>"$E2E_WORK/domains"
}

console_of() { echo "$E2E_WORK/console/$(slug "$1").log"; }

# define_domain NAME MODE: define a test domain (options: see domain_xml)
define_domain() {
    local name=$1 mode=$2 xml
    xml=$E2E_WORK/guest/$(slug "$name").xml
    domain_xml "$name" "$mode" >"$xml"
    register_domain "$name"
    # a leftover per-domain log from an earlier run would confuse the checks
    rm -f "/var/log/libvirt/qemu/$name.log"
    : >"$(console_of "$name")"
    v define "$xml" >/dev/null || fail "virsh define failed for '$name'"
}

# start_domain NAME: virsh start; sets START_MS (time the call took)
start_domain() {
    local t0
    : >"$(console_of "$1")"
    t0=$(now_ms)
    v start -- "$1" >/dev/null || fail "virsh start '$1' failed"
    START_MS=$(($(now_ms) - t0))
    log "started '$1' in ${START_MS} ms"
}

# domstate NAME: "state (reason)" as virsh prints it
domstate() {
    v domstate --reason -- "$1" 2>/dev/null || true
}

# wait_domstate NAME STATE TIMEOUT_S: poll until domstate matches the
# extended regex STATE; prints the elapsed ms on success
wait_domstate() {
    local name=$1 want=$2 tmo=$3 t0 st=""
    t0=$(now_ms)
    while (($(now_ms) - t0 < tmo * 1000)); do
        st=$(domstate "$name")
        if [[ $st =~ $want ]]; then
            echo $(($(now_ms) - t0))
            return 0
        fi
        sleep 0.1
    done
    log "'$name' still '$st' after ${tmo}s (wanted /$want/)"
    return 1
}

# wait_console NAME REGEX TIMEOUT_S: wait for a line on the guest console
wait_console() {
    local name=$1 re=$2 tmo=$3 t0 f
    f=$(console_of "$name")
    t0=$(now_ms)
    while (($(now_ms) - t0 < tmo * 1000)); do
        if grep -aEq -- "$re" "$f" 2>/dev/null; then
            echo $(($(now_ms) - t0))
            return 0
        fi
        sleep 0.1
    done
    log "console of '$name' has no /$re/ after ${tmo}s; last lines:"
    tail -n 15 "$f" 2>/dev/null | sed 's/^/    | /' >&2
    return 1
}

# inject_nmi NAME: the Windows recipe (QMP through libvirt; taints the
# domain custom-monitor, as it does in production)
inject_nmi() {
    v qemu-monitor-command -- "$1" '{"execute":"inject-nmi"}' >/dev/null ||
        fail "inject-nmi into '$1' failed"
}

# destroy_domain / undefine_domain: tolerant of the domain being gone
destroy_domain() {
    v destroy -- "$1" >/dev/null 2>&1 || true
}

remove_domain() {
    v destroy -- "$1" >/dev/null 2>&1 || true
    v undefine --managed-save -- "$1" >/dev/null 2>&1 || true
}

# remove_all_domains: every domain of this run, and any leftover domain of an
# earlier killed run (recognised by E2E_MARK in its description)
remove_all_domains() {
    local name uuid
    [ -S "$E2E_WORK/run/libvirt-sock" ] && pid_alive "$(daemon_pid)" || return 0
    while IFS= read -r uuid; do
        [ -n "$uuid" ] || continue
        if VIRSH_TIMEOUT=20 v dumpxml -- "$uuid" 2>/dev/null | grep -cF "<description>$E2E_MARK<" >/dev/null; then
            VIRSH_TIMEOUT=30 v destroy -- "$uuid" >/dev/null 2>&1
            VIRSH_TIMEOUT=30 v undefine --managed-save -- "$uuid" >/dev/null 2>&1
        fi
    done < <(VIRSH_TIMEOUT=20 v list --all --uuid 2>/dev/null)
    # saved images of the save/restore scenario
    rm -f "$E2E_WORK"/state/*.save
}

# kill_leftover_qemu: QEMU processes of our domains that outlived the daemon
kill_leftover_qemu() {
    local p
    for p in /proc/[0-9]*; do
        [ -r "$p/cmdline" ] || continue
        if tr '\0' ' ' <"$p/cmdline" 2>/dev/null | grep -c -- "qemu-system.*$E2E_WORK/guest/initrd.gz" >/dev/null; then
            log "killing leftover QEMU ${p#/proc/}"
            kill -KILL "${p#/proc/}" 2>/dev/null
        fi
    done
}

# ---------------------------------------------------------------- followers

# Background processes (pvpanic-watch follow, virsh event listeners) are
# recorded as "pid<TAB>what" in state/bg and stopped at cleanup.
bg_register() {
    printf '%s\t%s\n' "$1" "$2" >>"$E2E_WORK/state/bg"
}

stop_bg() {
    local pid=$1 i
    pid_alive "$pid" || { wait "$pid" 2>/dev/null || true; return 0; }
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 50; i++)); do pid_alive "$pid" || break; sleep 0.1; done
    pid_alive "$pid" && kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null || true
    return 0
}

stop_all_followers() {
    local pid what
    [ -f "$E2E_WORK/state/bg" ] || return 0
    while IFS=$'\t' read -r pid what; do
        stop_bg "$pid"
    done <"$E2E_WORK/state/bg"
    : >"$E2E_WORK/state/bg"
}

# ---------------------------------------------------------------- artifacts

# save_artifacts: keep the evidence of a failing run and print the key parts
save_artifacts() {
    local dir=${E2E_ARTIFACTS:-$E2E_WORK/artifacts} name f
    mkdir -p "$dir/qemu"
    cp -a "$E2E_WORK"/libvirtd.log* "$E2E_WORK/libvirtd.stderr" "$dir/" 2>/dev/null
    cp -a "$E2E_WORK/console" "$E2E_WORK/timings" "$dir/" 2>/dev/null
    cp -a "$E2E_WORK"/watch "$dir/" 2>/dev/null
    cp -a "$E2E_WORK"/scenario-logs "$dir/" 2>/dev/null
    while IFS= read -r name; do
        f="/var/log/libvirt/qemu/$name.log"
        [ -f "$f" ] && cp -a "$f" "$dir/qemu/$(slug "$name").log"
    done <"$E2E_WORK/domains"
    if [ "$E2E_FAILED" -ne 0 ]; then
        echo "==== artifacts of the failing run: $dir" >&2
        if [ -f "$dir/libvirtd.log" ]; then
            echo "---- libvirtd.log: errors, warnings and panic events" >&2
            grep -aE ' (error|warning) : |GUEST_PANICKED|QEMU_MONITOR_(NEW|CLOSE)' \
                "$dir/libvirtd.log" | tail -n 60 | cut -c1-400 >&2
        fi
        for f in "$dir"/qemu/*.log "$dir"/console/*.log; do
            [ -s "$f" ] || continue
            echo "---- ${f#"$dir"/} (last 15 lines)" >&2
            tail -n 15 "$f" | cut -c1-300 >&2
        done
    fi
    echo "==== artifacts kept in $dir" >&2
}

# remove_domain_logs: the per-domain logs of our domains are ours to remove
remove_domain_logs() {
    local name
    while IFS= read -r name; do
        [ -n "$name" ] && rm -f "/var/log/libvirt/qemu/$name.log"
    done <"$E2E_WORK/domains"
}

# ---------------------------------------------------------------- ground truth

# A `virsh qemu-monitor-event` listener records every GUEST_PANICKED that
# libvirt delivers through its API, independently of any log file, with the
# QMP timestamp (--timestamp would replace it by the local time):
#   event GUEST_PANICKED at 1735725600.123456 for domain 'NAME': {"action":"pause"}
# It is (re)started with the daemon.
start_event_listener() {
    setsid virsh -q -c "$E2E_URI" qemu-monitor-event --loop --event GUEST_PANICKED \
        </dev/null >>"$E2E_WORK/state/qmp-events" 2>>"$E2E_WORK/state/qmp-events.err" 9>&- &
    echo $! >"$E2E_WORK/state/listener.pid"
    bg_register $! "qemu-monitor-event listener"
}

stop_event_listener() {
    local pid
    pid=$(cat "$E2E_WORK/state/listener.pid" 2>/dev/null) || return 0
    stop_bg "$pid"
    rm -f "$E2E_WORK/state/listener.pid"
}

# panics_seen NAME: how many GUEST_PANICKED libvirt reported for NAME
panics_seen() {
    local n
    n=$(grep -caF -- " for domain '$1': " "$E2E_WORK/state/qmp-events" 2>/dev/null || true)
    echo "${n:-0}"
}

# wait_panics NAME COUNT TIMEOUT_S: until the listener saw COUNT panics
wait_panics() {
    local t0
    t0=$(now_ms)
    while (($(now_ms) - t0 < $3 * 1000)); do
        [ "$(panics_seen "$1")" -ge "$2" ] && return 0
        sleep 0.1
    done
    log "'$1': $(panics_seen "$1") GUEST_PANICKED events seen by virsh after $3 s, wanted $2"
    return 1
}

# daemon_log_count LITERAL: occurrences in the daemon log (and its .1)
daemon_log_count() {
    local f n=0 c
    for f in "$(cat "$E2E_WORK/state/daemon-log")"{.9,.8,.7,.6,.5,.4,.3,.2,.1,}; do
        [ -f "$f" ] || continue
        c=$(grep -caF -- "$1" "$f" || true)
        n=$((n + c))
    done
    echo "$n"
}
