#!/bin/bash
# A dead IKEv2 peer: xfrmd (west, DPD every 3 s) against a stock charon
# (east) that is killed (-9: its SAs stay in east's kernel, it answers no
# more IKE) and later stopped cleanly. West's tunnel goes down within the
# detection time (the DPD interval twice at most, then charon's ~8 s of
# retransmissions), its traffic is dropped, never sent in clear, and it
# comes back by itself when the peer returns.
. "$XFRMCTL_REPO/tests/uml/lib.sh"
. "$XFRMCTL_REPO/tests/uml/strongswan.sh"
. "$XFRMCTL_REPO/tests/uml/ikev2-daemon.sh"
two_hosts
DPD=3

psk=$(psk_file west)
ike_defs west site 192.0.2.1 192.0.2.2 '["10.1.0.0/24"]' '["10.2.0.0/24"]' \
    "{\"psk_file\": \"$WORK/west/keys/psk\", \"dpd\": {\"interval\": $DPD, \"action\": \"restart\"}}"
east_up() {
    stock_charon_start east
    stock_peer_psk east site 192.0.2.2 192.0.2.1 10.2.0.0/24 10.1.0.0/24 "$psk"
}
east_up
with_unit_capabilities # charon, started by xfrmd, runs with what the unit leaves it
xfrmd_start west
wait_for 20 ike_up west site || fail "the tunnel did not come up: $(xctl west status)"
protected_ping esp west -I 10.1.0.1 10.2.0.1
explained=$(xctl west --json explain 10.1.0.1 10.2.0.1 icmp)
expect_eq "$(json_get "$explained" '.verdict')" protected "explain: the flow is protected"
expect_eq "$(json_get "$explained" '.templates[0].negotiated')" true "explain: by charon's SA for the tunnel"
expect_eq "$(json_get "$explained" '.templates[0].spi')" \
    "$(ip -n west xfrm state list src 192.0.2.1 dst 192.0.2.2 | sed -n 's/.*spi \(0x[0-9a-f]*\).*/\1/p')" \
    "explain names the negotiated outbound SA"

# millis_until_down: waits (up to 40 s) for west's tunnel to leave "up";
# prints the milliseconds it took.
west_not_up() { ! xctl west status > /dev/null 2>&1; }
millis_until_down() {
    local start=$1
    wait_for 40 west_not_up || fail "still up 40 s after the peer died: $(xctl west status)"
    echo $(( $((${EPOCHREALTIME/./} / 1000)) - start ))
}

log "east's charon killed (-9): its SAs stay, but nothing answers IKE"
killed_at=$((${EPOCHREALTIME/./} / 1000))
stock_charon_stop east KILL
taken=$(millis_until_down "$killed_at")
log "dead peer detected after $taken ms (DPD interval $DPD s)"
limit=$(( (2 * DPD + 9 + 2) * 1000 )) # two intervals, charon's retransmissions (8.1 s), a tick
expect_eq "$([ "$taken" -le "$limit" ] && echo ok)" ok "down within the detection time ($taken ms <= $limit ms)"
status=$(xctl west --json status || true)
expect_eq "$(json_get "$status" '.tunnels[0].state')" down "status says down"
expect_contains "$(json_get "$status" '.tunnels[0].reason')" "IKE" "the reason is IKE's"
expect_gt "$(events west dead-peer | wc -l)" 0 "a dead-peer event"
log "reason: $(json_get "$status" '.tunnels[0].reason')"
expect_eq "$(ip -n west xfrm state list | grep -c '^src' || true)" 0 "charon removed the dead peer's SAs on west"
dropped_ping west -I 10.1.0.1 10.2.0.1
expect_eq "$(json_get "$(xctl west --json explain 10.1.0.1 10.2.0.1 icmp)" '.verdict')" dropped-no-sa \
    "explain: dropped, the SA is not there"
expect_gt "$(ip -n west xfrm policy list dir out | grep -c reqid)" 0 "west's policy stays: traffic is held back, not sent in clear"

log "east returns: west negotiates again by itself"
back_at=$EPOCHSECONDS
east_up
wait_for 40 ike_up west site || fail "the tunnel did not come back: $(xctl west status)"
log "up again $(( $EPOCHSECONDS - back_at )) s after the peer came back"
protected_ping esp west -I 10.1.0.1 10.2.0.1
expect_gt "$(events west ike-initiate | wc -l)" 1 "xfrmd initiated again"

log "east's charon stopped cleanly: it says goodbye (DELETE), west goes down at once"
stopped_at=$((${EPOCHREALTIME/./} / 1000))
stock_charon_stop east TERM
taken=$(millis_until_down "$stopped_at")
log "peer's delete noticed after $taken ms"
expect_eq "$([ "$taken" -le 3000 ] && echo ok)" ok "down within 3 s of the peer's delete ($taken ms)"
dropped_ping west -I 10.1.0.1 10.2.0.1
east_up
wait_for 40 ike_up west site || fail "the tunnel did not come back after a clean stop: $(xctl west status)"
protected_ping esp west -I 10.1.0.1 10.2.0.1
teardown
