#!/bin/bash
# A netlink socket closed under xfrmd (with gdb, as a bug elsewhere in the
# process would do it): first its event socket, then its request socket.
# Each time the daemon notices within a second or two, opens both sockets
# afresh (an event: netlink-reopened), re-reads the kernel, and goes on
# repairing drift; it neither stops nor spins on the dead descriptor, and
# the tunnel's traffic keeps flowing, protected, throughout.
. "$XFRMCTL_REPO/tests/uml/lib.sh"
two_hosts
pair site tunnel esp '"aes256-sha256"' 0x4100 4 yes
expect_rc 0 "apply east (no daemon there)" xctl east apply
xfrmd_start west
pid=$(cat "$WORK/west/xfrmd.pid")
ping_ok west -I 10.1.0.1 10.2.0.1

# xfrm_socket_fd GROUPS: the daemon's descriptor of its XFRM netlink socket
# that is (yes) or is not (no) in multicast groups, from the sockets of
# its network namespace (/proc/net/netlink: protocol 6 is NETLINK_XFRM).
xfrm_socket_fd() {
    local want=$1 inode fd
    inode=$(in_ns west awk -v want="$want" 'NR > 1 && $2 == 6 && $3 != 0 &&
        ((want == "yes") == ($4 != "00000000")) { print $NF }' /proc/net/netlink |
        while read -r i; do ls -l "/proc/$pid/fd" | grep -q "socket:\[$i\]" && echo "$i"; done | head -1)
    [ -n "$inode" ] || return 1
    for fd in /proc/"$pid"/fd/*; do
        [ "$(readlink "$fd")" = "socket:[$inode]" ] && { basename "$fd"; return 0; }
    done
    return 1
}

# close_under_daemon FD: the daemon's own close(2) on it, called by gdb.
close_under_daemon() {
    gdb -q -batch -p "$pid" -ex "call (int) close($1)" > "$WORK/gdb.log" 2>&1 ||
        fail "gdb could not close fd $1: $(tail -5 "$WORK/gdb.log")"
}

# cpu_ticks: the daemon's user and system time so far, in clock ticks.
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$pid/stat"; }

# still_keeps_the_kernel WHAT: an owned policy deleted by hand comes back,
# the daemon answers, traffic is protected, and it does not spin.
still_keeps_the_kernel() {
    local what=$1 before
    wait_for 5 sh -c "[ \$(jq -c 'select(.event == \"netlink-reopened\")' '$WORK/west/state/events.jsonl' | wc -l) -ge $2 ]" ||
        fail "$what: no netlink-reopened event: $(tail -5 "$WORK/west/xfrmd.log")"
    pass "$what: the daemon reopened its sockets ($(events west netlink-reopened | tail -1 | jq -r .why))"
    kill -0 "$pid" && pass "$what: xfrmd lived through it"
    before=$(cpu_ticks)
    nap 3
    expect_eq "$([ $(($(cpu_ticks) - before)) -lt 100 ] && echo calm || echo spinning)" calm \
        "$what: xfrmd does not spin (under a second of CPU in 3 s)"
    ip -n west xfrm policy delete dir out src 10.1.0.0/24 dst 10.2.0.0/24
    wait_for 3 sh -c "ip -n west xfrm policy get dir out src 10.1.0.0/24 dst 10.2.0.0/24 | grep -q 'proto esp'" ||
        fail "$what: a deleted owned policy did not come back"
    pass "$what: drift is still repaired (a deleted owned policy is back)"
    expect_rc 0 "$what: status through the daemon: up" xctl west status site
    protected_ping esp west -I 10.1.0.1 10.2.0.1
}

log "the event socket closed under the daemon"
events_fd=$(xfrm_socket_fd yes) || fail "no XFRM event socket found in xfrmd"
log "xfrmd's event socket is fd $events_fd"
capture_start whole
close_under_daemon "$events_fd"
still_keeps_the_kernel "event socket closed" 1

log "the request socket closed under the daemon"
request_fd=$(xfrm_socket_fd no) || fail "no XFRM request socket found in xfrmd"
log "xfrmd's request socket is fd $request_fd"
close_under_daemon "$request_fd"
still_keeps_the_kernel "request socket closed" 2
capture_stop whole
expect_eq "$(capture_count whole "$ECHO4")" 0 "no bare echo on the wire at any time"
expect_eq "$(capture_has_pattern whole)" 0 "no payload in clear at any time"
read_errors=$(grep '^<3>.*reading kernel events' "$WORK/west/xfrmd.log" || true)
expect_eq "$(printf '%s\n' "$read_errors" | grep -c .)" 1 "the read error is logged once, not once a loop: $read_errors"
xfrmd_stop west
teardown
