#!/bin/bash
# xfrmd never misses silently: its event socket overrun (ENOBUFS, provoked
# with a tiny receive buffer and thousands of changes made by hand) leads to
# a full re-read of the kernel, which puts back an owned policy deleted in
# the middle of the flood and leaves the thousands of foreign policies
# alone. And an SA whose hard lifetime ran out stays out (fail closed, an
# event, "roll the key"), even across a restart, until the key is rolled.
. "$XFRMCTL_REPO/tests/uml/lib.sh"
two_hosts
pair flood tunnel esp '"aes256gcm16"' 0x6000 4 yes
pair short tunnel esp '"aes256-sha256"' 0x6100 6 yes
amend west short.json '.tunnels.short.lifetime = {"soft": {"bytes": 3000}, "hard": {"bytes": 6000}}'
expect_rc 0 "apply east" xctl east apply
xfrmd_start west --event-buffer 4096
ping_ok west -I 10.1.0.1 10.2.0.1

log "a flood: 3000 foreign policies added by hand, an owned one deleted in the middle"
{
    for i in $(seq 0 2999); do
        [ "$i" = 1500 ] && echo "xfrm policy delete dir out src 10.1.0.0/24 dst 10.2.0.0/24"
        echo "xfrm policy add src 10.50.$((i / 250)).$((i % 250))/32 dst 10.60.0.1/32 dir out priority 9 tmpl src 192.0.2.1 dst 192.0.2.77 proto esp mode tunnel"
    done
} > "$WORK/flood.batch"
ip -n west -batch "$WORK/flood.batch"
wait_for 10 sh -c "grep -q '\"event\":\"resync\"' '$WORK/west/state/events.jsonl'" || fail "no resync event"
expect_contains "$(events west resync | head -1)" "receive buffer overrun" "the overrun is an event: resync"
wait_for 5 sh -c "ip -n west xfrm policy get dir out src 10.1.0.0/24 dst 10.2.0.0/24 | grep -q 'proto esp'" ||
    fail "the owned policy deleted in the flood did not come back"
pass "the owned policy deleted in the flood is back"
expect_eq "$(ip -n west xfrm policy list dst 10.60.0.1/32 | grep -c '^src')" 3000 "the 3000 foreign policies are all there"
expect_eq "$(grep -c -e '10\.50\.' -e '10\.60\.' "$WORK/west/state/events.jsonl" || true)" 0 "no event names a foreign one"
expect_rc 0 "status flood: up" xctl west status flood
ping_ok west -I 10.1.0.1 10.2.0.1
kill -0 "$(cat "$WORK/west/xfrmd.pid")" && pass "xfrmd lived through it"

log "the short tunnel's hard byte lifetime runs out"
set +e
in_ns west ping -6 -q -c 12 -i 0.2 -W 1 -s 1000 -I 2001:db8:1::1 2001:db8:2::1 > /dev/null 2>&1
set -e
wait_for 5 sh -c "grep -q '\"event\":\"sa-expired\"' '$WORK/west/state/events.jsonl'" || fail "no sa-expired event"
expect_eq "$(events west sa-expiring | jq -r .tunnel | sort -u)" short "first the soft expiry: a roll-the-key warning"
expect_contains "$(events west sa-expired | head -1)" "the tunnel is down until the key is rolled" "then the hard one"
nap 2
expect_eq "$(ip -n west xfrm state list spi 0x6101)" "" "the expired SA stays out (not re-installed)"
expect_rc 3 "status short: down" xctl west status short
expect_contains "$OUT" "hard lifetime ran out" "because its hard lifetime ran out"
capture_start v6drop
set +e
in_ns west ping -6 -q -c 3 -i 0.2 -W 1 -p "$PATTERN" -I 2001:db8:1::1 2001:db8:2::1 > /dev/null 2>&1
rc=$?
set -e
capture_stop v6drop
expect_ne "$rc" 0 "its traffic gets no answer"
expect_eq "$(capture_count v6drop "$ECHO6")" 0 "and never crosses in clear"

log "a restart does not bring the expired key back"
xfrmd_stop west
xfrmd_start west --event-buffer 4096
nap 2
expect_eq "$(ip -n west xfrm state list spi 0x6101)" "" "still out after a restart"
expect_rc 1 "xfrmctl apply (through the daemon): an error" xctl west apply
expect_contains "$OUT" "/tunnels/short/keying/outbound: its hard lifetime ran out: roll the key" "naming the SA and what to do"
expect_eq "$(ip -n west xfrm state list spi 0x6101)" "" "still out after apply"

log "the key rolled: a new SPI and key, and the tunnel is up again"
tunnel_keys short esp aes256-sha256
for host in west east; do
    amend $host short.json '.tunnels.short.keying.outbound.spi |= (if . == "0x6101" then "0x6111" else "0x6112" end)
                           | .tunnels.short.keying.inbound.spi |= (if . == "0x6101" then "0x6111" else "0x6112" end)
                           | del(.tunnels.short.lifetime)'
done
expect_rc 0 "apply east" xctl east apply
expect_rc 0 "apply west" xctl west apply
nap 1.5
expect_rc 0 "status: all up" xctl west status
protected_ping esp west -6 -I 2001:db8:1::1 2001:db8:2::1
xfrmd_stop west
teardown
exit $FAILED
