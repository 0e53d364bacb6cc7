#!/bin/bash
# NAT traversal: west sits behind a masquerading NAT in its own namespace
# (see nat_hosts in lib.sh); ESP goes in UDP port 4500, through the NAT,
# both ways. The
# wire between the NAT and east shows UDP 4500 and never bare ESP; the UDP
# sockets that decapsulate are held while the tunnel exists.
#   west 192.168.1.2 (lan 10.1.0.1) -- nat 192.168.1.1 | 203.0.113.1 -- [wire] -- east 203.0.113.2 (lan 10.2.0.1)
. "$XFRMCTL_REPO/tests/uml/lib.sh"
nat_hosts

log "the tunnel: west knows east's address; east knows only the NAT's"
new_key "$WORK/keys/nat.w2e" 36
new_key "$WORK/keys/nat.e2w" 36
nat_json() { # LOCAL REMOTE LSUB RSUB OUT IN OUTKEY INKEY
    cat <<JSON
{ "version": 1, "tunnels": { "natted": {
    "proposal": "aes256gcm16", "encapsulation": {},
    "local": { "address": "$1", "subnets": ["$3"] }, "remote": { "address": "$2", "subnets": ["$4"] },
    "keying": { "method": "manual",
      "outbound": { "spi": "$5", "key_file": "$WORK/keys/$7" },
      "inbound":  { "spi": "$6", "key_file": "$WORK/keys/$8" } } } } }
JSON
}
write_defs west nat.json "$(nat_json 192.168.1.2 203.0.113.2 10.1.0.0/24 10.2.0.0/24 0x4501 0x4502 nat.w2e nat.e2w)"
write_defs east nat.json "$(nat_json 203.0.113.2 203.0.113.1 10.2.0.0/24 10.1.0.0/24 0x4502 0x4501 nat.e2w nat.w2e)"
expect_rc 0 "apply west" xctl west apply
expect_rc 0 "apply east" xctl east apply
expect_contains "$(ip -n west xfrm state list spi 0x4501)" "encap type espinudp sport 4500 dport 4500" "SAs carry the UDP encapsulation"
expect_contains "$(ip netns exec east ss -uapn)" ":4500" "east holds UDP port 4500"
expect_contains "$(ip netns exec west ss -uapn)" "xfrmctl" "held by xfrmctl's holder"

log "traffic through the NAT"
capture_start natted
ping_ok west -p "$PATTERN" -I 10.1.0.1 10.2.0.1
capture_stop natted
expect_gt "$(capture_count natted 'udp port 4500')" 9 "UDP 4500 on the wire"
expect_eq "$(capture_count natted 'ip proto 50')" 0 "no bare ESP on the wire"
expect_eq "$(capture_count natted "$ECHO4")" 0 "no clear echo on the wire"
expect_eq "$(capture_has_pattern natted)" 0 "the payload never crosses in clear"
expect_contains "$(capture_text natted)" "203.0.113.1.4500 > 203.0.113.2.4500: UDP-encap: ESP(spi=0x00004501" \
    "west's ESP, behind the NAT's address"
expect_rc 0 "status: up" xctl west status
expect_rc 0 "a second apply: nothing to do, the holder kept" xctl west apply
holder=$(cat "$WORK/west/state/encap/ipv4-4500.pid")
expect_rc 0 "again" xctl west apply
expect_eq "$(cat "$WORK/west/state/encap/ipv4-4500.pid")" "$holder" "the same holder"

log "the holder goes with the tunnel"
kill -0 "$holder" && pass "the holder runs"
expect_rc 0 "down --all" xctl west down --all
nap 0.5
kill -0 "$holder" 2>/dev/null && fail "the holder still runs" || pass "the holder stopped"
expect_not_contains "$(ip netns exec west ss -uapn)" ":4500" "port 4500 is free"
