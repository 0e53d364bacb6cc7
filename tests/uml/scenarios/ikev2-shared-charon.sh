#!/bin/bash
# xfrmd with a charon the host already runs (--vici, --alerts): it starts
# none of its own, adds its connection next to the host's and never touches
# the host's. On the other end xfrmd runs its own charon. A changed
# definition is negotiated afresh, xfrmctl down closes the SAs, apply
# brings them back, and a removed tunnel leaves the host's charon as it was.
. "$XFRMCTL_REPO/tests/uml/lib.sh"
. "$XFRMCTL_REPO/tests/uml/strongswan.sh"
. "$XFRMCTL_REPO/tests/uml/ikev2-daemon.sh"
two_hosts

psk=$(psk_file west)
psk_file east "$psk" > /dev/null
keying() { echo "{\"psk_file\": \"$WORK/$1/keys/psk\", \"start\": \"$2\", \"rekey\": {\"child\": $3}}"; }
ike_defs west site 192.0.2.1 192.0.2.2 '["10.1.0.0/24"]' '["10.2.0.0/24"]' "$(keying west now 3600)"
ike_defs east site 192.0.2.2 192.0.2.1 '["10.2.0.0/24"]' '["10.1.0.0/24"]' "$(keying east respond 3600)"

log "west's host runs strongSwan with a connection of its own"
stock_charon_start west
stock_conf west <<'CONF'
connections {
    other {
        remote_addrs = 198.51.100.7
        local { auth = psk }
        remote { auth = psk }
        children { other { remote_ts = 10.9.0.0/16 } }
    }
}
CONF
# No periodic re-read within the scenario: what xfrmd does, it does because
# of the command or event that asked for it (an apply's tunnel once reached
# charon only at the next re-read, 30 s later).
xfrmd_start west --vici "$WORK/west/run/charon.vici" --alerts "$WORK/west/run/charon.enfy" --resync 3600
xfrmd_start east
both_up() { ike_up west site && ike_up east site; }
wait_for 30 both_up || fail "not up: west $(ike_state west site), east $(ike_state east site)"
expect_eq "$(grep -c 'started charon' "$WORK/west/xfrmd.log" || true)" 0 "west's xfrmd started no charon of its own"
conns=$(stock_swanctl west --list-conns)
expect_contains "$conns" "other:" "the host's connection is loaded"
expect_contains "$conns" "xfrmctl.site:" "xfrmd's connection next to it"
protected_ping esp west -I 10.1.0.1 10.2.0.1
protected_ping esp east -I 10.2.0.1 10.1.0.1

log "a changed definition (CHILD SA rekeyed every 1800 s) is negotiated afresh"
before=$(ip -n west xfrm state list | sed -n 's/.*spi \(0x[0-9a-f]*\).*/\1/p' | sort | xargs)
ike_defs west site 192.0.2.1 192.0.2.2 '["10.1.0.0/24"]' '["10.2.0.0/24"]' "$(keying west now 1800)"
expect_rc 0 "west reloads" xctl west reload
new_spis() {
    local now
    now=$(ip -n west xfrm state list | sed -n 's/.*spi \(0x[0-9a-f]*\).*/\1/p' | sort | xargs)
    [ -n "$now" ] && [ "$now" != "$before" ] && [ "$(echo "$now" | wc -w)" = 2 ] && ike_up west site
}
wait_for 30 new_spis || fail "not negotiated afresh: $(ip -n west xfrm state list | grep spi)"
pass "new SAs after the change ($before -> $(ip -n west xfrm state list | sed -n 's/.*spi \(0x[0-9a-f]*\).*/\1/p' | xargs))"
next=$(xctl west --json status | jq '.tunnels[0].ike.child.next_rekey - now | floor')
expect_eq "$([ "$next" -le 1800 ] && [ "$next" -gt 1500 ] && echo ok)" ok "the next CHILD SA rekey is within 1800 s ($next s)"
expect_contains "$(stock_swanctl west --list-conns)" "other:" "the host's connection is still there"
protected_ping esp west -I 10.1.0.1 10.2.0.1

log "xfrmctl down closes the SAs; apply brings the tunnel back"
expect_rc 0 "west: down site" xctl west down site
wait_for 10 sh -c "[ -z \"\$(ip -n west xfrm state list)\" ]" || fail "SAs stay after down: $(ip -n west xfrm state list | grep spi)"
pass "no SA left on west"
expect_eq "$(ip -n west xfrm policy list dir out | grep -c reqid || true)" 0 "nor the tunnel's policies"
expect_rc 0 "west: apply" xctl west apply
wait_for 20 both_up || fail "not back after apply: west $(ike_state west site), east $(ike_state east site)"
protected_ping esp west -I 10.1.0.1 10.2.0.1

log "the tunnel removed: xfrmd's connection goes, the host's stays"
rm "$WORK/west/defs/site.json"
expect_rc 0 "west reloads" xctl west reload
gone() { ! stock_swanctl west --list-conns | grep -q 'xfrmctl.site:'; }
wait_for 10 gone || fail "xfrmd's connection stays: $(stock_swanctl west --list-conns)"
pass "xfrmd's connection unloaded"
expect_contains "$(stock_swanctl west --list-conns)" "other:" "the host's connection untouched"
expect_eq "$(stock_swanctl west --list-sas | grep -c xfrmctl || true)" 0 "no SA of xfrmd's left in the host's charon"
xfrmd_stop west
expect_eq "$(kill -0 "$(cat "$WORK/west/charon.pid")" && echo running)" running "the host's charon runs on after xfrmd stops"
teardown
