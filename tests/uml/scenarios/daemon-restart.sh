#!/bin/bash
# Restarts lose nothing: a stopped xfrmd leaves the kernel's entries in
# place; a started one adopts them without a single kernel write; and a
# daemon killed (-9) in the middle of a key rollover, then restarted, ends
# with the right SAs (each once), the right status, and no datagram lost.
. "$XFRMCTL_REPO/tests/uml/lib.sh"
two_hosts
for g in g1 g2 g3; do generation_keys main $g; done
gen() { generation_json "$1" main "$2" "$3" "$4"; }
for host in west east; do
    rolling_defs $host main 2 "$(gen $host g1 0x3000 true)"
    xfrmd_start $host
done
flow_start w2e west east 10.1.0.1 10.2.0.1 250
flow_start e2w east west 10.2.0.1 10.1.0.1 250
nap 1

# spis HOST: the SPIs of the host's SAs, sorted, one line (each SPI once
# per SA: a duplicate shows twice).
spis() { ip -n "$1" xfrm state list | awk '/proto esp spi/ { print $4 }' | sort | tr '\n' ' '; }

log "a clean stop leaves the kernel as it is; a start adopts it without writing"
before=$(entries west)
xfrmd_stop west TERM
expect_eq "$(entries west)" "$before" "xfrmd stopped: the kernel's entries stayed"
nap 1
monitor_start west
started=${EPOCHREALTIME/./}000
xfrmd_start west
log "xfrmd answered $(( (${EPOCHREALTIME/./}000 - started) / 1000000 )) ms after it was started"
nap 1
expect_eq "$(monitor_stop west)" "" "the restarted daemon made no kernel write (ip xfrm monitor saw nothing)"
expect_eq "$(entries west)" "$before" "and the entries are the same"
expect_eq "$(events west changed | jq -r .why | sort | uniq -c | tr -s ' ')" " 5 start" \
    "west's changes: the five entries of the first start, none since"

log "g2 added for receiving on both ends"
for host in west east; do
    rolling_defs $host main 2 "$(gen $host g1 0x3000 true)" "$(gen $host g2 0x3100 false)"
    expect_rc 0 "reload $host" xctl $host reload
done

log "west: g2 activated, and the daemon killed (-9) 50 ms after SIGHUP"
rolling_defs west main 2 "$(gen west g1 0x3000 true)" "$(gen west g2 0x3100 true)"
kill -HUP "$(cat "$WORK/west/xfrmd.pid")"
nap 0.05
xfrmd_stop west KILL
xfrmd_start west
wait_for 5 sa_absent west 0x3001 || fail "west still sends with g1"
expect_eq "$(spis west)" "0x00003002 0x00003101 0x00003102 " "west: g1 and g2 inbound, g2 outbound, each once"

log "east: g2 activated, and the daemon killed (-9) while it answers xfrmctl reload"
rolling_defs east main 2 "$(gen east g1 0x3000 true)" "$(gen east g2 0x3100 true)"
xctl east reload > /dev/null 2>&1 &
nap 0.02
xfrmd_stop east KILL
wait $! || true
xfrmd_start east
wait_for 5 sa_absent east 0x3002 || fail "east still sends with g1"
expect_eq "$(spis east)" "0x00003001 0x00003101 0x00003102 " "east: g1 and g2 inbound, g2 outbound, each once"

log "after the grace period, g1 retired on both ends"
wait_for 10 sa_absent west 0x3002 || fail "west kept g1's inbound SA"
wait_for 10 sa_absent east 0x3001 || fail "east kept g1's inbound SA"
for host in west east; do
    expect_rc 0 "status $host" xctl $host status --json
    expect_eq "$(json_get "$OUT" '.tunnels[0] | [.state, .generation, ([.sas[] | select(.present)] | length)] | join(" ")')" \
        "up g2 2" "$host: up, sending with g2, two SAs present"
done
expect_eq "$(spis west)" "0x00003101 0x00003102 " "west: g2's two SAs, each once"

log "a third generation, rolled with the daemons killed between the steps"
for host in west east; do
    rolling_defs $host main 2 "$(gen $host g2 0x3100 true)" "$(gen $host g3 0x3200 false)"
    xfrmd_stop $host KILL
    xfrmd_start $host
done
for host in west east; do
    rolling_defs $host main 2 "$(gen $host g2 0x3100 true)" "$(gen $host g3 0x3200 true)"
    xfrmd_stop $host KILL
    xfrmd_start $host
    nap 1
done
wait_for 10 sa_absent west 0x3102 || fail "west kept g2's inbound SA"
wait_for 10 sa_absent east 0x3101 || fail "east kept g2's inbound SA"
expect_eq "$(spis west)" "0x00003201 0x00003202 " "west: g3's two SAs, each once"
expect_eq "$(spis east)" "0x00003201 0x00003202 " "east: g3's two SAs, each once"
nap 1
flow_stop w2e
flow_stop e2w
xfrmd_stop west
xfrmd_stop east
teardown
exit $FAILED
