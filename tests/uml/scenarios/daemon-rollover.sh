#!/bin/bash
# xfrmd on both ends (two daemons side by side, one per namespace) rolls a
# manual key make-before-break under a steady flow each way, driven as an
# Ansible play would: the new generation added for receiving on both ends,
# then activated for sending on each, then the old one retired by the
# daemons after the grace period. Receivers count every datagram: none may
# be lost.
. "$XFRMCTL_REPO/tests/uml/lib.sh"
two_hosts
generation_keys main g1
generation_keys main g2
for host in west east; do
    rolling_defs $host main 3 "$(generation_json $host main g1 0x2000 true)"
    xfrmd_start $host
done

log "two daemons side by side: each has its own socket, state and tunnel"
expect_eq "$(stat -c %a "$WORK/west/run")" 700 "the socket's directory is root's alone"
expect_eq "$(stat -c %a "$WORK/west/run/xfrmd.sock")" 600 "and so is the socket"
expect_ne "$(cat "$WORK/west/xfrmd.pid")" "$(cat "$WORK/east/xfrmd.pid")" "two daemons"
expect_rc 0 "status west (from west's daemon)" xctl west status --json
expect_eq "$(json_get "$OUT" '.tunnels[0].generation')" g1 "west sends with g1"
expect_rc 0 "status east (from east's daemon)" xctl east status --json
expect_eq "$(json_get "$OUT" '.tunnels[0].state')" up "east is up"
expect_eq "$(ip -n west xfrm state list spi 0x2001 | grep -c '^src')" 1 "west installed its outbound SA"

flow_start w2e west east 10.1.0.1 10.2.0.1 250
flow_start e2w east west 10.2.0.1 10.1.0.1 250
nap 2

log "step 1: g2 added for receiving on both ends"
for host in west east; do
    rolling_defs $host main 3 "$(generation_json $host main g1 0x2000 true)" "$(generation_json $host main g2 0x2100 false)"
done
expect_rc 0 "xfrmctl reload west" xctl west reload
kill -HUP "$(cat "$WORK/east/xfrmd.pid")" # the other way to say it
wait_for 5 ip -n east xfrm state get src 192.0.2.1 dst 192.0.2.2 proto esp spi 0x2101 ||
    fail "east did not add g2's inbound SA after SIGHUP"
expect_ne "$(ip -n west xfrm state list spi 0x2102)" "" "west receives on g2"
expect_eq "$(ip -n west xfrm state list spi 0x2101)" "" "west does not send on g2 yet"
nap 2

log "step 2: g2 activated for sending, one end after the other"
for host in west east; do
    rolling_defs $host main 3 "$(generation_json $host main g1 0x2000 true)" "$(generation_json $host main g2 0x2100 true)"
    expect_rc 0 "xfrmctl reload $host" xctl $host reload
    nap 2
done
expect_eq "$(ip -n west xfrm state list spi 0x2001)" "" "west's g1 outbound SA is gone"
expect_gt "$(sa_counter east 0x2101 packets)" 100 "east receives west's flow on g2"
expect_gt "$(sa_counter west 0x2102 packets)" 100 "west receives east's flow on g2"

log "the grace period (3 s) over, the daemons retire g1's inbound SAs"
wait_for 10 sa_absent west 0x2002 || fail "west kept g1's inbound SA"
wait_for 10 sa_absent east 0x2001 || fail "east kept g1's inbound SA"
retired=$(events west retired | head -1)
expect_eq "$(json_get "$retired" .generation)" g1 "west: a 'retired' event for g1"
expect_contains "$(json_get "$retired" .reason)" "the peer sends with g2" "saying why"
expect_rc 0 "status west" xctl west status --json
expect_eq "$(json_get "$OUT" '.tunnels[0].generation')" g2 "status: west sends with g2"
expect_eq "$(json_get "$OUT" '[.tunnels[0].sas[] | select(.present)] | length')" 2 "status: two SAs, g2's"
nap 2
flow_stop w2e
flow_stop e2w
xfrmd_stop west
xfrmd_stop east

log "each daemon's events are its own"
expect_eq "$(events east changed | jq -r .tunnel | sort -u)" main "east's daemon changed only its tunnel"
expect_eq "$(events west drift)" "" "west's daemon took none of its own writes for drift"
expect_eq "$(events west changed | jq -r .why | sort -u | tr '\n' ,)" \
    "a key generation retired,start,xfrmctl reload," "west changed the kernel at start, on reload and to retire g1"
teardown
exit $FAILED
