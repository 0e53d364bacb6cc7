#!/bin/bash
# Marks: a tunnel with a mark carries only packets so marked (the rest find
# no policy); an output mark is set on the packets the outbound SA makes
# (counted by an nftables rule on that mark). And ESN with the largest
# replay window, 4096 packets.
. "$XFRMCTL_REPO/tests/uml/lib.sh"
two_hosts
pair marked tunnel esp '"aes256gcm16"' 0x1600 4 yes
for host in west east; do amend $host marked.json '.tunnels.marked.mark = "0x7" | .tunnels.marked.esn = true | .tunnels.marked.replay_window = 4096'; done
amend west marked.json '.tunnels.marked.output_mark = {"value": "0x99"}'
expect_rc 0 "apply west" xctl west apply
expect_rc 0 "apply east" xctl east apply
sa=$(ip -n west xfrm state list spi 0x1602)
expect_contains "$sa" "replay_window 4096, bitmap-length 128" "a 4096-packet ESN window"
expect_contains "$sa" "mark 0x7/0xffffffff" "SAs carry the mark"
expect_contains "$(ip -n west xfrm state list spi 0x1601)" "output-mark 0x99" "the outbound SA sets the output mark"
expect_contains "$(ip -n west xfrm policy list dir out)" "mark 0x7/0xffffffff" "policies match on it"
# A mark does not cross the wire: each host marks the ESP it receives, for
# its inbound SA (as a VTI does), and east marks its replies (a route chain:
# the new mark must choose the policy, as iptables' mangle OUTPUT did).
for host in west east; do
    in_ns $host nft add table ip mangle
    in_ns $host nft add chain ip mangle prerouting '{ type filter hook prerouting priority mangle; }'
    in_ns $host nft add rule ip mangle prerouting ip protocol esp meta mark set 7
done
in_ns west nft add chain ip mangle postrouting '{ type filter hook postrouting priority mangle; }'
in_ns west nft add rule ip mangle postrouting ip protocol esp meta mark 0x99 counter
in_ns east nft add chain ip mangle output '{ type route hook output priority mangle; }'
in_ns east nft add rule ip mangle output ip daddr 10.1.0.0/24 meta mark set 7

log "marked packets take the tunnel"
protected_ping esp west -m 7 -I 10.1.0.1 10.2.0.1
counted=$(in_ns west nft -j list chain ip mangle postrouting | jq '[.nftables[] | .rule? // empty | .expr[] | .counter? // empty | .packets] | add')
expect_eq "$counted" 5 "the five ESP packets west sent carried the output mark"
expect_eq "$(json_get "$(xctl west explain 10.1.0.1 10.2.0.1 icmp --mark 7 --json)" .verdict)" protected "explain agrees"

log "unmarked packets find no policy"
capture_start unmarked
ping_ok west -I 10.1.0.1 10.2.0.1 >/dev/null
capture_stop unmarked
expect_gt "$(capture_count unmarked "$ECHO4")" 0 "unmarked requests go in clear (no policy of ours matches)"
expect_eq "$(json_get "$(xctl west explain 10.1.0.1 10.2.0.1 icmp --json)" .verdict)" clear-no-policy "explain agrees"
