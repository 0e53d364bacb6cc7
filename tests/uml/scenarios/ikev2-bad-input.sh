#!/bin/bash
# IKEv2 negotiations that cannot succeed end in a clear status reason, in
# charon's own words (its error-notify alert), within 20 s: a wrong PSK,
# a certificate from a CA west does not trust, no common IKE proposal, no
# common ESP proposal. Meanwhile west's traffic for the tunnel is dropped,
# never sent in clear. Once east is put right, the tunnel comes up by
# itself, with the same xfrmd and charon. And validate refuses a weak
# proposal, naming where it is.
. "$XFRMCTL_REPO/tests/uml/lib.sh"
. "$XFRMCTL_REPO/tests/uml/strongswan.sh"
. "$XFRMCTL_REPO/tests/uml/ikev2.sh"
ike_setup
xfrmd_pid=$(cat "$WORK/west/xfrmd.pid")

log "validate refuses weak proposals, naming the JSON path"
ike_psk weak
ike_west weak 4 tunnel psk '.ike_proposals = ["aes128-sha1-modp1024"]'
expect_rc 1 "validate: a weak IKE proposal" xctl west validate
expect_contains "$OUT" "/tunnels/weak/keying/ike_proposals/0" "the message names the IKE proposal's path"
expect_contains "$OUT" "too weak" "and says it is too weak"
validate_ike=$OUT
ike_west weak 4 tunnel psk '.esp_proposals = ["aes256gcm16", "aes128-sha1"]'
expect_rc 1 "validate: a weak ESP proposal" xctl west validate
expect_contains "$OUT" "/tunnels/weak/keying/esp_proposals/1" "the message names the ESP proposal's path"
expect_rc 1 "apply (through xfrmd) refuses it too" xctl west apply
expect_contains "$OUT" "/tunnels/weak/keying/esp_proposals/1" "naming the path"
expect_eq "$(test -S "$WORK/west/run/charon.vici" && echo yes || echo no)" no "no charon was started for it"
rm "$WORK/west/defs/weak.json"

# fails_with NAME TEXT: within 20 s, NAME is down for TEXT (in its reason,
# after "IKE failed: "); its traffic is dropped meanwhile, never in clear.
fails_with() {
    local name=$1 text=$2 t0=$SECONDS
    has_reason() { [[ $(ike_reason "$1") == "IKE failed: "*"$2"* ]]; }
    wait_for 20 has_reason "$name" "$text" || fail "$name: no reason with '$text' within 20 s: $(ike_reason "$name")"
    pass "$name: down within $((SECONDS - t0)) s, reason: $(ike_reason "$name")"
    local t
    t=$(ike_tunnel "$name")
    expect_eq "$(json_get "$t" .state)" down "$name: down"
    expect_contains "$(json_get "$t" .ike.last_alert)" "$text" "$name: .ike.last_alert is charon's alert"
    expect_rc 3 "$name: status exits 3 (a tunnel not up)" xctl west status
    expect_contains "$OUT" "$name: down: IKE failed: " "$name: status says why"
    expect_ne "$(events west ike-alert | jq -r --arg t "$name" 'select(.tunnel == $t) | .alert' | grep -F "$text" || true)" "" \
        "$name: an ike-alert event"
    expect_eq "$(policies_with_dir west)" 3 "$name: xfrmctl's policies stay in place"
    expect_eq "$(sa_reqids west | wc -l)" 0 "$name: no SA on west"
    dropped_ping west -I 10.1.0.1 10.2.0.1
}

# recovers NAME: up by itself once east is fixed, with the same xfrmd.
recovers() {
    local name=$1 t0=$SECONDS
    ike_wait_up "$name" 25
    pass "$name: up by itself $((SECONDS - t0)) s after east was fixed"
    expect_eq "$(ike_tunnel "$name" | jq -r '.ike.last_alert')" null "$name: the alert is cleared"
    expect_eq "$(cat "$WORK/west/xfrmd.pid")" "$xfrmd_pid" "the same xfrmd"
    expect_eq "$(west_charon_pid)" "$charon_pid" "and the same charon"
    ike_check_kernel "$name" tunnel
    protected_ping esp west -I 10.1.0.1 10.2.0.1
    rm "$WORK/west/defs/$name.json"
    expect_rc 0 "reload west without $name" xctl west reload
    wait_for 10 sh -c "[ -z \"\$(ip -n west xfrm state list)\" ]" || fail "$name's SAs stay on west"
}

log "wrong PSK: east has another one"
ike_psk badpsk
ike_psk other
ike_east badpsk 4 tunnel psk "" "" other
ike_west badpsk 4 tunnel psk
expect_rc 0 "reload west with badpsk" xctl west reload
fails_with badpsk "authentication failed"
# charon's "local authentication failed" means the peer refused ours
expect_contains "$(ike_reason badpsk)" "IKE failed: the peer refused our authentication: the two ends do not hold the same PSK" \
    "badpsk: the reason says the peer refused our PSK"
charon_pid=$(west_charon_pid)
expect_ne "$charon_pid" "" "xfrmd's charon runs"
ike_east badpsk 4 tunnel psk
recovers badpsk

log "IKE proposal mismatch: east accepts only aes128-sha256-ecp256"
ike_psk ikeprop
ike_east ikeprop 4 tunnel psk aes128-sha256-ecp256
ike_west ikeprop 4 tunnel psk
expect_rc 0 "reload west with ikeprop" xctl west reload
fails_with ikeprop "the received IKE_SA proposals did not match: IKE:AES_GCM_16_256/PRF_HMAC_SHA2_384/CURVE_25519"
ike_east ikeprop 4 tunnel psk
recovers ikeprop

log "ESP proposal mismatch: east accepts only aes128gcm16"
ike_psk espprop
ike_east espprop 4 tunnel psk "" aes128gcm16
ike_west espprop 4 tunnel psk
expect_rc 0 "reload west with espprop" xctl west reload
fails_with espprop "the received CHILD_SA proposals did not match: ESP:AES_GCM_16_256"
ike_east espprop 4 tunnel psk
recovers espprop

log "untrusted certificate: east presents one from another CA"
ike_east_cert untrusted-east
ike_east untrusted 4 tunnel x509
ike_west untrusted 4 tunnel x509
expect_rc 0 "reload west with untrusted" xctl west reload
# charon's alerts on the initiator: the certificate's, then a generic one
issuer="no trusted issuer certificate found: 'C=CH, O=xfrmctl, CN=xfrmctl untrusted CA'"
has_alert() { events west ike-alert | jq -r 'select(.tunnel == "untrusted") | .alert' | grep -qxF "$1"; }
wait_for 20 has_alert "$issuer" || fail "no alert about east's certificate: $(events west ike-alert)"
pass "charon's alert: $issuer"
wait_for 20 has_alert "peer authentication failed" || fail "no alert that authentication failed: $(events west ike-alert)"
pass "then: peer authentication failed"
# the status keeps the certificate's reason, the one that says what to fix
fails_with untrusted "$issuer"
ike_east_cert east
ike_east untrusted 4 tunnel x509
recovers untrusted

log "validate said: $validate_ike"
log "took $(($EPOCHSECONDS - started)) s after the namespaces were made"
xfrmd_stop west
teardown
