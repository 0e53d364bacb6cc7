#!/bin/bash
# IKEv2 interoperability: xfrmd on west keys its tunnels with IKEv2 (its
# own charon, its own policies), a stock charon on east is configured only
# by the swanctl.conf written here. Five cases, one after the other, each
# switched in by rewriting west's definitions (xfrmctl reload) and east's
# swanctl.conf:
#   psk4    PSK,   IPv4, tunnel     (default proposals; a binary PSK
#           ending in 0x0a, in hex)
#   x509v4  X.509, IPv4, transport  (AES-CBC/SHA-384, ECP-384)
#   x509v6  X.509, IPv6, tunnel     (default proposals)
#   answer  PSK,   IPv4, tunnel, west "start": "respond": east initiates
#   psk6    PSK,   IPv6, transport  (ChaCha20-Poly1305), from empty
#           neighbour caches
# In each: pings both ways through ESP only (the payload never in clear),
# west's status up with the IKE line (ESTABLISHED, the negotiated
# algorithms), one IKE SA on each side, west's SAs carrying the tunnel's
# reqid and no policy with a direction but xfrmctl's. A removed tunnel
# leaves nothing behind on either side. xfrmd's charon logs to
# STATE/charon.log as it goes.
. "$XFRMCTL_REPO/tests/uml/lib.sh"
. "$XFRMCTL_REPO/tests/uml/strongswan.sh"
. "$XFRMCTL_REPO/tests/uml/ikev2.sh"
ike_setup
expect_eq "$(test -S "$WORK/west/run/charon.vici" && echo yes || echo no)" no "no ikev2 tunnel yet: xfrmd runs no charon"

# up_case NAME FAMILY MODE IKE_ALGORITHMS CHILD_ALGORITHMS REMOTE_ID
up_case() {
    local name=$1 family=$2 mode=$3 ike=$4 child=$5 remote_id=$6 t text
    ike_wait_up "$name" 20
    t=$(ike_tunnel "$name")
    expect_eq "$(json_get "$t" .keying)" ikev2 "$name: keying ikev2"
    expect_eq "$(json_get "$t" .mode)" "$mode" "$name: $mode mode"
    expect_eq "$(json_get "$t" .ike.state)/$(json_get "$t" .ike.child.state)" ESTABLISHED/INSTALLED "$name: IKE SA established, CHILD SA installed"
    expect_eq "$(json_get "$t" .ike.algorithms)" "$ike" "$name: the IKE SA's algorithms"
    expect_eq "$(json_get "$t" .ike.child.algorithms)" "$child" "$name: the CHILD SA's algorithms"
    expect_eq "$(json_get "$t" .ike.remote_id)" "$remote_id" "$name: east authenticated as $remote_id"
    expect_eq "$(json_get "$t" '.ike.established != null and .ike.next_rekey != null and .ike.child.next_rekey != null')" true \
        "$name: established and rekey times"
    expect_eq "$(json_get "$t" '.policies.present == .policies.wanted')" true "$name: all policies present"
    expect_eq "$(west_swanctl --list-sas --ike "xfrmctl.$name" | grep -c "^xfrmctl.$name: #" || true)" 1 "$name: one IKE SA in xfrmd's charon"
    expect_eq "$(stock_swanctl east --list-sas --ike "$name" | grep -c "^$name: #" || true)" 1 "$name: and one in east's"
    text=$(xctl west status || true)
    expect_contains "$text" "$name: IKE SA ESTABLISHED $ike with $remote_id, up since" "$name: status shows the IKE SA"
    expect_contains "$text" "; CHILD SA INSTALLED $child, last keyed" "$name: and the CHILD SA"
    expect_eq "$(echo "$text" | awk -v t="$name" '$1 == t { print $2 "/" $3 }')" up/ikev2 "$name: the table says up, key ikev2"
    ike_check_kernel "$name" "$mode" "$family"
    expect_eq "$(events west ike-up | jq -r --arg t "$name" 'select(.tunnel == $t) | .ike' | tail -1)" "$ike" "$name: an ike-up event"
    ike_pings "$family" "$mode"
    t=$(ike_tunnel "$name")
    expect_gt "$(json_get "$t" .packets_out)" 9 "$name: west's status counts charon's SAs' packets out"
    expect_gt "$(json_get "$t" .packets_in)" 9 "$name: and in"
}

# switch_from NAME: removes a case's tunnel from west; nothing of it stays.
switch_from() {
    local name=$1 reqid spis
    reqid=$(ike_reqid "$name")
    spis=$(ip -n west xfrm state list | awk '/^\tproto esp / { print $4 }' | tr '\n' ' ')
    rm "$WORK/west/defs/$name.json"
    expect_rc 0 "reload west without $name" xctl west reload
    # shellcheck disable=SC2086 # the SPIs, one word each
    ike_check_gone "$name" "$reqid" $spis
    expect_ne "$(events west ike-removed | jq -r .tunnel | grep -x "$name" || true)" "" "$name: an ike-removed event"
}

log "psk4: PSK, IPv4, tunnel mode, default proposals"
# a binary PSK ending in 0x0a, in hex as xfrmctl.json(5) says; east's
# swanctl.conf has the same line (secret = 0x...)
ike_psk psk4 "0x$(head -c 31 /dev/urandom | od -An -tx1 | tr -d ' \n')0a"
ike_east psk4 4 tunnel psk
ike_west psk4 4 tunnel psk
expect_rc 0 "reload west with psk4" xctl west reload
up_case psk4 4 tunnel AES_GCM_16-256/PRF_HMAC_SHA2_384/CURVE_25519 AES_GCM_16-256 192.0.2.2
expect_eq "$(test -S "$WORK/west/run/charon.vici" && echo yes || echo no)" yes "xfrmd's charon has its VICI socket next to xfrmd's"
expect_eq "$(events west ike-loaded | jq -r .tunnel)" psk4 "one ike-loaded event, for psk4"
expect_eq "$(events west ike-initiate | jq -r 'select(.tunnel == "psk4") | .reason' | head -1)" start "west initiated at start"

log "x509v4: X.509, IPv4, transport mode, AES-CBC with SHA-384 and ECP-384"
ike_east x509v4 4 transport x509 aes256-sha384-ecp384 aes256-sha256-ecp384
ike_west x509v4 4 transport x509 '.ike_proposals = ["aes256-sha384-ecp384"] | .esp_proposals = ["aes256-sha256-ecp384"]'
switch_from psk4
expect_rc 0 "reload west with x509v4" xctl west reload
up_case x509v4 4 transport AES_CBC-256/HMAC_SHA2_384_192/PRF_HMAC_SHA2_384/ECP_384 AES_CBC-256/HMAC_SHA2_256_128 east.example

log "x509v6: X.509, IPv6, tunnel mode, default proposals"
ike_east x509v6 6 tunnel x509
ike_west x509v6 6 tunnel x509
switch_from x509v4
expect_rc 0 "reload west with x509v6" xctl west reload
up_case x509v6 6 tunnel AES_GCM_16-256/PRF_HMAC_SHA2_384/CURVE_25519 AES_GCM_16-256 east.example

log "answer: west only responds (start respond); east initiates"
ike_psk answer
ike_east answer 4 tunnel psk
ike_west answer 4 tunnel psk '.start = "respond"'
switch_from x509v6
expect_rc 0 "reload west with answer" xctl west reload
nap 3
expect_contains "$(ike_reason answer)" "waits for the peer" "answer: down, waiting for the peer"
expect_eq "$(events west ike-initiate | jq -r 'select(.tunnel == "answer")')" "" "west never initiated answer"
dropped_ping west -I 10.1.0.1 10.2.0.1
expect_eq "$(events west ike-initiate | jq -r 'select(.tunnel == "answer")')" "" "nor on traffic (the kernel's acquire)"
expect_rc 0 "east initiates" stock_swanctl east --initiate --child answer --ike answer --timeout 20
up_case answer 4 tunnel AES_GCM_16-256/PRF_HMAC_SHA2_384/CURVE_25519 AES_GCM_16-256 192.0.2.2

# as the negotiations go, not only when charon ends (filelog's flush_line)
wait_for 2 grep -q 'CHILD_SA answer{[0-9]*} established' "$WORK/west/state/charon.log" ||
    fail "xfrmd's charon.log does not have answer's CHILD SA yet: $(tail -c 300 "$WORK/west/state/charon.log")"
pass "xfrmd's charon logs to STATE/charon.log as it goes"

log "psk6: PSK, IPv6, transport mode, ChaCha20-Poly1305"
# With no neighbour entry yet, as on a host just booted (x509v6 resolved
# them): IKE needs neighbour discovery between the very addresses that
# the transport-mode policies cover before any SA exists.
ip -n west -6 neigh flush dev wan
ip -n east -6 neigh flush dev wan
ike_psk psk6
ike_east psk6 6 transport psk chacha20poly1305-prfsha256-x25519 chacha20poly1305-x25519
ike_west psk6 6 transport psk '.ike_proposals = ["chacha20poly1305-prfsha256-x25519"] | .esp_proposals = ["chacha20poly1305-x25519"]'
switch_from answer
expect_rc 0 "reload west with psk6" xctl west reload
up_case psk6 6 transport CHACHA20_POLY1305/PRF_HMAC_SHA2_256/CURVE_25519 CHACHA20_POLY1305 2001:db8::2

log "no tunnel left"
switch_from psk6
expect_eq "$(policies_with_dir west)" 0 "west has no policy with a direction"
expect_eq "$(ip -n west xfrm state list | grep -c '^src' || true)" 0 "west has no SA"
log "took $(($EPOCHSECONDS - started)) s after the namespaces were made"
xfrmd_stop west
teardown
