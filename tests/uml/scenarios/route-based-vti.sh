#!/bin/bash
# A route-based tunnel: the controller creates the interface (a VTI, asked
# for by "kind": the kernel has XFRM interfaces too, which would be the
# default; xfrmi-hub-spokes tests those), its address and the routes into
# it; the routed traffic crosses encrypted; the interface goes with the
# tunnel.
. "$XFRMCTL_REPO/tests/uml/lib.sh"
two_hosts
# The lans are reached through the tunnel's interface now, not the wan.
ip -n west route del 10.2.0.0/24
ip -n east route del 10.1.0.0/24
route_based() { # HOST LOCAL REMOTE TUNNEL_ADDRESS ROUTE OUT_SPI IN_SPI OUT_KEY IN_KEY
    cat <<JSON
{ "version": 1, "tunnels": { "rb": {
    "proposal": "aes256gcm16",
    "local": { "address": "$2" }, "remote": { "address": "$3" },
    "interface": { "name": "ipsec0", "kind": "vti", "addresses": ["$4"], "routes": ["$5"], "mtu": 1400 },
    "keying": { "method": "manual",
      "outbound": { "spi": "$6", "key_file": "$WORK/keys/$8" },
      "inbound":  { "spi": "$7", "key_file": "$WORK/keys/$9" } } } } }
JSON
}
new_key "$WORK/keys/rb.w2e" 36
new_key "$WORK/keys/rb.e2w" 36
write_defs west rb.json "$(route_based west 192.0.2.1 192.0.2.2 169.254.10.1/30 10.2.0.0/24 0xf001 0xf002 rb.w2e rb.e2w)"
write_defs east rb.json "$(route_based east 192.0.2.2 192.0.2.1 169.254.10.2/30 10.1.0.0/24 0xf002 0xf001 rb.e2w rb.w2e)"
expect_rc 0 "apply west" xctl west apply
expect_contains "$OUT" "+ link ipsec0 vti" "the plan creates a VTI"
expect_contains "$OUT" "+ route 10.2.0.0/24 dev ipsec0" "and the route into it"
expect_rc 0 "apply east" xctl east apply

log "what the kernel holds"
link=$(ip -n west -d link show ipsec0)
expect_contains "$link" "vti remote 192.0.2.2 local 192.0.2.1" "a VTI between the endpoints"
expect_contains "$link" "mtu 1400" "with the MTU asked for"
expect_contains "$link" "UP" "and up"
expect_contains "$(ip -n west addr show dev ipsec0)" "169.254.10.1/30" "its address"
expect_contains "$(ip -n west route show 10.2.0.0/24)" "dev ipsec0 proto 250" "the route, marked as ours"
expect_contains "$(ip -n west xfrm state list spi 0xf001)" "mark 0x" "SAs carry the VTI's key as mark"
expect_contains "$(ip -n west xfrm policy list dir out)" "src 0.0.0.0/0 dst 0.0.0.0/0" "wildcard policies: routing decides"

log "routed traffic crosses encrypted"
protected_ping esp west -I 10.1.0.1 10.2.0.1
protected_ping esp west 169.254.10.2
counters_rise west 0xf001 0xf002
expect_rc 0 "status: up" xctl west status
expect_eq "$(json_get "$(xctl west status --json)" '.tunnels[0].interface')" ipsec0 "status names the interface"

log "idempotent, and a route change touches only the route"
monitor_start west
expect_rc 0 "second apply" xctl west apply --json
expect_eq "$(json_get "$OUT" .changed)" false "nothing to do"
expect_eq "$(monitor_stop west)" "" "no XFRM write"
sed -i 's|"routes": \["10.2.0.0/24"\]|"routes": ["10.2.0.0/24", "10.20.0.0/16"]|' "$WORK/west/defs/rb.json"
expect_rc 0 "apply a new route" xctl west apply --json
expect_eq "$(json_get "$OUT" '[.changes[].object] | join(",")')" route "only a route changes"
expect_contains "$(ip -n west route show 10.20.0.0/16)" "dev ipsec0 proto 250" "the new route"

log "someone else's link of that name blocks the tunnel"
ip -n east link del ipsec0
ip -n east link add ipsec0 type dummy
expect_rc 1 "apply east" xctl east apply
expect_contains "$OUT" "a link named ipsec0 already exists and xfrmctl did not make it" "names the link"
expect_contains "$(ip -n east -d link show ipsec0)" "dummy" "the foreign link is untouched"
ip -n east link del ipsec0

log "the tunnel removed: interface, address and routes go with it"
rm "$WORK/west/defs/rb.json"
expect_rc 0 "apply without the tunnel" xctl west apply
expect_eq "$(ip -n west link show ipsec0 2>/dev/null)" "" "the interface is gone"
expect_eq "$(ip -n west route show proto 250)" "" "our routes are gone"
expect_eq "$(ip -n west xfrm state list)" "" "the SAs are gone"
expect_eq "$(grep -c interface "$WORK/west/state/owned.json" || true)" 0 "nothing is left owned"
