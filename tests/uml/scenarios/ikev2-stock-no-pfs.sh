#!/bin/bash
# A stock peer without PFS: east's charon on its own defaults (no
# proposals at all in its swanctl.conf: its ESP proposals carry no
# key-exchange group), west's xfrmd on ours (a key-exchange group in
# esp_proposals), the CHILD SA rekeyed every 10 s. The tunnel comes up (the
# CHILD SA of IKE_AUTH has no key exchange), its first CHILD SA rekey is
# refused (NO_PROPOSAL_CHOSEN), the CHILD SA expires, and xfrmd negotiates
# a fresh IKE SA instead of retrying inside the old one: up again by
# itself within a bounded time, status having said why meanwhile.
. "$XFRMCTL_REPO/tests/uml/lib.sh"
. "$XFRMCTL_REPO/tests/uml/strongswan.sh"
. "$XFRMCTL_REPO/tests/uml/ikev2-daemon.sh"
two_hosts
started=$EPOCHSECONDS

psk=$(psk_file west)
ike_defs west site 192.0.2.1 192.0.2.2 '["10.1.0.0/24"]' '["10.2.0.0/24"]' \
    "{\"psk_file\": \"$WORK/west/keys/psk\", \"rekey\": {\"child\": 10}}"
stock_charon_start east
stock_conf east <<CONF
connections {
    site {
        local_addrs = 192.0.2.2
        remote_addrs = 192.0.2.1
        local {
            auth = psk
            id = 192.0.2.2
        }
        remote {
            auth = psk
            id = 192.0.2.1
        }
        children {
            site {
                local_ts = 10.2.0.0/24
                remote_ts = 10.1.0.0/24
            }
        }
    }
}
secrets {
    ike-site {
        id-1 = 192.0.2.2
        id-2 = 192.0.2.1
        secret = "$psk"
    }
}
CONF
xfrmd_start west
wait_for 30 ike_up west site || fail "the tunnel did not come up: $(xctl west status)"
pass "up with the stock peer's defaults: $(ike_state west site)"
expect_contains "$(xctl west --json status | jq -r '.tunnels[0].ike.child.algorithms')" "AES_GCM_16" \
    "the CHILD SA of IKE_AUTH: no key exchange to refuse"

# status's reason, sampled as fast as status answers while the tunnel is
# not up (the fresh IKE SA takes a second or more)
reasons=$WORK/reasons
( while :; do
    xctl west --json status 2>/dev/null | jq -r '.tunnels[0] | select(.state != "up") | .reason' >> "$reasons"
    echo sample >> "$WORK/samples"
done ) &
sampler=$!

log "the CHILD SA rekey with PFS is refused; xfrmd starts a fresh IKE SA"
refused() { events west ike-alert | jq -r .alert | grep -q "CHILD_SA proposals"; }
wait_for 30 refused || fail "no refused CHILD SA rekey: $(events west ike-alert)"
pass "charon's alert: $(events west ike-alert | jq -r .alert | grep "CHILD_SA proposals" | head -1)"
expect_contains "$(grep -h 'NO_PROPOSAL_CHOSEN' "$WORK/west/state/charon.log" | head -1)" "NO_PROPOSAL_CHOSEN" \
    "west's charon got NO_PROPOSAL_CHOSEN from east"
restarted() { [ -n "$(events west ike-restart)" ]; }
wait_for 30 restarted || fail "no fresh IKE SA: $(xctl west status; events west ike-initiate)"
t_restart=$EPOCHSECONDS
expect_contains "$(events west ike-restart | head -1 | jq -r .reason)" "the CHILD SA cannot be negotiated inside its IKE SA" \
    "the ike-restart event says why"
back_up() { ike_up west site && [ "$(events west ike-up | wc -l)" -ge 2 ]; }
wait_for 20 back_up || fail "not up again within 20 s of the fresh IKE SA: $(xctl west status)"
pass "up again by itself, $(($EPOCHSECONDS - t_restart)) s after xfrmd started a fresh IKE SA"
kill "$sampler" 2>/dev/null || true
wait "$sampler" 2>/dev/null || true
jq -c 'select(.event | test("^(ike|child)-")) | del(.ike, .child)' "$WORK/west/state/events.jsonl" | grep -v ike-loaded | sed 's/^/event: /'
why="the CHILD SA cannot be negotiated inside its IKE SA (the received CHILD_SA proposals did not match"
expect_contains "$(xctl west --json status | jq -r '.tunnels[0].ike.last_restart.reason')" "$why" \
    "status keeps why the IKE SA was replaced (ike.last_restart)"
expect_contains "$(xctl west status)" "; fresh IKE SA at " "and says it in text"
# sampled while it was down, as fast as status answered (under load the
# second or two can fall between two samples): logged below, not judged
log "reasons seen: $(sort -u "$reasons" | tr '\n' '|') ($(wc -l < "$WORK/samples") status samples)"
protected_ping esp west -I 10.1.0.1 10.2.0.1
one_ike() { [ "$(stock_swanctl east --list-sas | grep -c '^site: #' || true)" = 1 ]; }
wait_for 10 one_ike || fail "east holds more than one IKE SA: $(stock_swanctl east --list-sas)"
pass "east holds one IKE SA: the old one is gone"
log "took $(($EPOCHSECONDS - started)) s after the namespaces were made"
xfrmd_stop west
teardown
