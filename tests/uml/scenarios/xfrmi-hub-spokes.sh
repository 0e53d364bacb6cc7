#!/bin/bash
# Route-based tunnels on XFRM interfaces, hub and spokes: each spoke has one
# tunnel to the hub, on an XFRM interface (bound to its SAs and policies by
# if_id) with routes to the hub's lan and to the other spoke's; the hub has
# one interface per spoke and forwards between them. Traffic between the
# spokes crosses the wire twice, encrypted both times; the interfaces' and
# the SAs' counters rise; a tunnel removed takes its interface and routes.
#   hub 192.0.2.1 (lan 10.1.0.1)   spoke-a 192.0.2.2 (lan 10.2.0.1)
#   spoke-b 192.0.2.3 (lan 10.3.0.1), all on one bridge (star_hosts)
. "$XFRMCTL_REPO/tests/uml/lib.sh"
star_hosts

xfrmi_tunnel() { # NAME LOCAL REMOTE IFNAME IF_ID ROUTES(json) OUT_SPI IN_SPI OUT_KEY IN_KEY
    cat <<JSON
{ "version": 1, "tunnels": { "$1": {
    "proposal": "aes256gcm16",
    "local": { "address": "$2" }, "remote": { "address": "$3" },
    "interface": { "name": "$4", "kind": "xfrm", "id": $5, "routes": $6 },
    "keying": { "method": "manual",
      "outbound": { "spi": "$7", "key_file": "$WORK/keys/$9" },
      "inbound":  { "spi": "$8", "key_file": "$WORK/keys/${10}" } } } } }
JSON
}
for k in hub-a a-hub hub-b b-hub; do new_key "$WORK/keys/$k" 36; done
write_defs hub spoke-a.json "$(xfrmi_tunnel spoke-a 192.0.2.1 192.0.2.2 xa 101 '["10.2.0.0/24"]' 0xa001 0xa002 hub-a a-hub)"
write_defs hub spoke-b.json "$(xfrmi_tunnel spoke-b 192.0.2.1 192.0.2.3 xb 102 '["10.3.0.0/24"]' 0xb001 0xb002 hub-b b-hub)"
write_defs spoke-a hub.json "$(xfrmi_tunnel hub 192.0.2.2 192.0.2.1 ipsec0 7 '["10.1.0.0/24", "10.3.0.0/24"]' 0xa002 0xa001 a-hub hub-a)"
write_defs spoke-b hub.json "$(xfrmi_tunnel hub 192.0.2.3 192.0.2.1 ipsec0 7 '["10.1.0.0/24", "10.2.0.0/24"]' 0xb002 0xb001 b-hub hub-b)"
expect_rc 0 "apply hub" xctl hub apply
expect_contains "$OUT" "+ link xa xfrm" "the plan creates an XFRM interface per spoke"
expect_contains "$OUT" "+ route 10.3.0.0/24 dev xb" "and the routes into them"
expect_rc 0 "apply spoke-a" xctl spoke-a apply
expect_rc 0 "apply spoke-b" xctl spoke-b apply

log "what the kernel holds"
expect_contains "$(ip -n hub -d link show xa)" "xfrm if_id 0x65" "the hub's interface to spoke-a, if_id 101"
expect_contains "$(ip -n hub -d link show xb)" "xfrm if_id 0x66" "to spoke-b, if_id 102"
expect_contains "$(ip -n spoke-a -d link show ipsec0)" "UP" "spoke-a's interface is up"
expect_contains "$(ip -n hub route show 10.2.0.0/24)" "dev xa proto 250" "the hub routes spoke-a's lan into xa"
expect_contains "$(ip -n spoke-a route show 10.3.0.0/24)" "dev ipsec0 proto 250" "spoke-a routes spoke-b's lan into its tunnel"
expect_contains "$(ip -n hub xfrm state list spi 0xa001)" "if_id 0x65" "the SAs are bound to the interface by if_id"
expect_not_contains "$(ip -n hub xfrm state list spi 0xa001)" "mark" "and carry no mark"
expect_contains "$(ip -n hub xfrm policy list dir fwd)" "if_id 0x66" "the hub forwards by policies bound to the interfaces"

# iface_packets HOST IFACE rx|tx: the interface's packet counter.
iface_packets() { ip -n "$1" -s -j link show "$2" | jq ".[0].stats64.$3.packets"; }
hub_in_before=$(iface_packets hub xa rx)
hub_out_before=$(iface_packets hub xb tx)

log "spoke to spoke, through the hub: ESP on the wire both ways, each hop"
protected_ping esp spoke-a -I 10.2.0.1 10.3.0.1
expect_gt "$(capture_count protected 'esp and src 192.0.2.1 and dst 192.0.2.3')" 4 "the hub re-encrypts toward spoke-b"
expect_gt "$(capture_count protected 'esp and src 192.0.2.1 and dst 192.0.2.2')" 4 "and the replies toward spoke-a"
expect_gt "$(($(iface_packets hub xa rx) - hub_in_before))" 4 "the hub's xa received the five pings"
expect_gt "$(($(iface_packets hub xb tx) - hub_out_before))" 4 "and xb sent them on"
expect_gt "$(iface_packets spoke-b ipsec0 rx)" 4 "spoke-b's interface received them"
counters_rise hub 0xa001 0xa002 0xb001 0xb002
counters_rise spoke-b 0xb001 0xb002
protected_ping esp spoke-b -I 10.3.0.1 10.1.0.1
expect_rc 0 "status: up" xctl hub status
expect_contains "$(json_get "$(xctl hub status --json)" '[.tunnels[].interface] | join(",")')" "xa,xb" "status names the interfaces"

log "idempotent"
monitor_start hub
expect_rc 0 "second apply" xctl hub apply --json
expect_eq "$(json_get "$OUT" .changed)" false "nothing to do"
expect_eq "$(monitor_stop hub)" "" "no XFRM write"

log "spoke-b's tunnel removed: its interface and routes go, spoke-a's stay"
rm "$WORK/hub/defs/spoke-b.json"
expect_rc 0 "apply without spoke-b" xctl hub apply
expect_eq "$(ip -n hub link show xb 2>/dev/null)" "" "xb is gone"
expect_eq "$(ip -n hub route show 10.3.0.0/24)" "" "its route is gone"
expect_eq "$(ip -n hub xfrm state list spi 0xb001)" "" "its SAs are gone"
expect_eq "$(ip -n hub xfrm policy list | grep -c 'if_id 0x66' || true)" 0 "and its policies"
expect_contains "$(ip -n hub route show 10.2.0.0/24)" "dev xa proto 250" "spoke-a's route stays"
protected_ping esp spoke-a -I 10.2.0.1 10.1.0.1
dropped_ping spoke-a -I 10.2.0.1 10.3.0.1
