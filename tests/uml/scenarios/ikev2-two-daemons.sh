#!/bin/bash
# Two xfrmd negotiating IKEv2 with each other (west starts the tunnel, east
# negotiates on demand), then a reboot-like restart of each end in turn:
# xfrmd and its charon killed, the kernel's XFRM state flushed, xfrmd
# started again with its state directory. Each time the tunnel comes back
# by a fresh negotiation: every SPI is new on both ends (fresh keys: nothing
# of the old SAs is reused), and no old SA lingers.
. "$XFRMCTL_REPO/tests/uml/lib.sh"
. "$XFRMCTL_REPO/tests/uml/ikev2-daemon.sh"
two_hosts

psk=$(psk_file west)
psk_file east "$psk" > /dev/null
ike_defs west site 192.0.2.1 192.0.2.2 '["10.1.0.0/24"]' '["10.2.0.0/24"]' \
    "{\"psk_file\": \"$WORK/west/keys/psk\", \"start\": \"now\", \"dpd\": {\"interval\": 5}}"
ike_defs east site 192.0.2.2 192.0.2.1 '["10.2.0.0/24"]' '["10.1.0.0/24"]' \
    "{\"psk_file\": \"$WORK/east/keys/psk\", \"start\": \"on_demand\", \"dpd\": {\"interval\": 5}}"
xfrmd_start west
xfrmd_start east
both_up() { ike_up west site && ike_up east site; }
wait_for 30 both_up || fail "not up: west $(ike_state west site), east $(ike_state east site)"
pass "up on both ends: west $(ike_state west site), east $(ike_state east site)"
protected_ping esp west -I 10.1.0.1 10.2.0.1
protected_ping esp east -I 10.2.0.1 10.1.0.1

spis() { ip -n "$1" xfrm state list | sed -n 's/.*spi \(0x[0-9a-f]*\).*/\1/p' | sort; }
charon_pid() { sed -n 's/.*started charon (.*, pid \([0-9]*\)).*/\1/p' "$WORK/$1/xfrmd.log" | tail -1; }

# common_lines A B: how many lines the two texts share
common_lines() { printf '%s\n' "$1" "$2" | grep -v '^$' | sort | uniq -d | wc -l; }

# reboot HOST: as a crash and a reboot would leave it: no process, no SA,
# no policy; the state directory (on disk) kept.
reboot() {
    local host=$1 pid
    pid=$(charon_pid "$host")
    xfrmd_stop "$host" KILL
    kill -9 "$pid"
    wait_gone "$pid"
    ip -n "$host" xfrm state flush
    ip -n "$host" xfrm policy flush
    xfrmd_start "$host"
}

# after_reboot HOST: both ends up again, every SPI new, two SAs on each end.
after_reboot() {
    local host=$1 before_west=$2 before_east=$3
    wait_for 40 both_up || fail "not up after $host rebooted: west $(ike_state west site), east $(ike_state east site)"
    pass "up again after $host rebooted"
    wait_for 15 sh -c "[ \$(ip -n west xfrm state list | grep -c '^src') = 2 ] && [ \$(ip -n east xfrm state list | grep -c '^src') = 2 ]" ||
        fail "old SAs linger: west $(spis west | xargs), east $(spis east | xargs)"
    pass "two SAs on each end: no old SA left"
    protected_ping esp west -I 10.1.0.1 10.2.0.1
    protected_ping esp east -I 10.2.0.1 10.1.0.1
    local now_west now_east
    now_west=$(spis west) now_east=$(spis east)
    expect_eq "$(common_lines "$before_west" "$now_west")" 0 "west: every SPI new (before: $(echo $before_west), now: $(echo $now_west))"
    expect_eq "$(common_lines "$before_east" "$now_east")" 0 "east: every SPI new (before: $(echo $before_east), now: $(echo $now_east))"
}

log "west's charon dies (-9) under a running xfrmd: another is started and negotiates"
old_pid=$(charon_pid west) before_west=$(spis west)
kill -9 "$old_pid"
wait_for 30 sh -c "[ \"\$(sed -n 's/.*started charon (.*, pid \([0-9]*\)).*/\1/p' $WORK/west/xfrmd.log | tail -1)\" != $old_pid ]" ||
    fail "xfrmd did not start another charon: $(tail -5 "$WORK/west/xfrmd.log")"
expect_gt "$(events west charon-lost | wc -l)" 0 "xfrmd noticed charon was gone"
wait_for 30 both_up || fail "not up after charon was replaced: west $(ike_state west site), east $(ike_state east site)"
protected_ping esp west -I 10.1.0.1 10.2.0.1
log "the dead charon's SAs (west: $(echo $before_west)) are swept once 30 s old"
wait_for 60 sh -c "[ \$(ip -n west xfrm state list | grep -c '^src') = 2 ]" || fail "stale SAs stay: $(spis west | xargs)"
expect_eq "$(common_lines "$before_west" "$(spis west)")" 0 "none of the dead charon's SAs is left"
expect_eq "$(events west stale-sa-removed | wc -l)" 2 "two stale SAs removed, each an event"

log "west (the initiator) reboots: it negotiates afresh at start"
before_west=$(spis west) before_east=$(spis east)
reboot west
after_reboot west "$before_west" "$before_east"

log "east (on demand) reboots: its first packet's acquire makes it negotiate"
before_west=$(spis west) before_east=$(spis east)
reboot east
wait_for 10 sh -c "ip -n east xfrm policy list dir out | grep -q reqid" || fail "east's policies are not back"
expect_eq "$(ip -n east xfrm state list | grep -c '^src' || true)" 0 "east has no SA after its reboot"
in_ns east ping -q -c 3 -i 0.5 -W 1 -I 10.2.0.1 10.1.0.1 > /dev/null 2>&1 || true # the acquire
expect_gt "$(events east ike-initiate | jq -c 'select(.reason | test("acquire"))' | wc -l)" 0 "east negotiated on the acquire"
after_reboot east "$before_west" "$before_east"
teardown
