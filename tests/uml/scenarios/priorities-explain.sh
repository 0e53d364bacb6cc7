#!/bin/bash
# Automatic policy priorities: a narrower tunnel wins over a wider one on
# the same host, whichever was applied first; an explicit priority
# overrides that. Which tunnel carried a packet is read off the wire (SPI).
#   wide:   10.1.0.0/24 <-> 10.2.0.0/16    narrow: 10.1.0.0/24 <-> 10.2.0.0/24
. "$XFRMCTL_REPO/tests/uml/lib.sh"
two_hosts
ip -n east addr add 10.2.1.1/24 dev lan
ip -n west route add 10.2.1.0/24 via 192.0.2.2
subnet_pair() { # NAME BASE WEST_REMOTE
    pair "$1" tunnel esp '"aes256gcm16"' "$2" 4 yes
    amend west "$1.json" ".tunnels[\"$1\"].remote.subnets = [\"$3\"]"
    amend east "$1.json" ".tunnels[\"$1\"].local.subnets = [\"$3\"]"
}
both() { expect_rc 0 "apply west" xctl west apply; expect_rc 0 "apply east" xctl east apply; }
carried_by() { # ADDRESS: the SPI of west's ESP packet to it
    capture_start which
    ping_ok west -I 10.1.0.1 "$1" >&2
    capture_stop which
    capture_text which | grep -o '192.0.2.1 > 192.0.2.2: ESP(spi=0x[0-9a-f]*' | head -1 | grep -o '0x[0-9a-f]*'
}

log "wide first, then narrow"
subnet_pair wide 0x2100 10.2.0.0/16
both
expect_eq "$(carried_by 10.2.0.1)" 0x00002101 "alone, the wide tunnel carries 10.2.0.1"
subnet_pair narrow 0x2200 10.2.0.0/24
both
expect_eq "$(carried_by 10.2.0.1)" 0x00002201 "the narrow tunnel wins for 10.2.0.1"
expect_eq "$(carried_by 10.2.1.1)" 0x00002101 "the wide one still carries 10.2.1.1"

log "narrow first, then wide (fresh keys)"
rm "$WORK"/west/defs/*.json "$WORK"/east/defs/*.json "$WORK"/keys/*
both
subnet_pair narrow 0x2300 10.2.0.0/24
both
subnet_pair wide 0x2400 10.2.0.0/16
both
expect_eq "$(carried_by 10.2.0.1)" 0x00002301 "the narrow tunnel wins for 10.2.0.1"
expect_eq "$(carried_by 10.2.1.1)" 0x00002401 "the wide one carries 10.2.1.1"

log "an explicit priority overrides (on both ends)"
for host in west east; do amend $host wide.json '.tunnels.wide.priority = 100'; done
both
expect_contains "$(ip -n west xfrm policy list dir out)" "priority 100" "the wide tunnel's policies took priority 100"
expect_eq "$(carried_by 10.2.0.1)" 0x00002401 "now the wide tunnel carries 10.2.0.1"

log "explain predicts what the kernel does"
explain_spi() { json_get "$(xctl west explain "$@" --json)" '.templates[0].spi'; }
for dst in 10.2.0.1 10.2.1.1; do
    expect_eq "$(explain_spi 10.1.0.1 $dst icmp)" "$(carried_by $dst)" "explain names the SPI that carries $dst"
done
e=$(xctl west explain 10.1.0.1 10.2.0.1 icmp --json)
expect_eq "$(json_get "$e" .tunnel)" wide "the winning tunnel"
expect_contains "$(json_get "$e" .why)" "set explicitly" "and why it won"
expect_eq "$(json_get "$e" '.beaten | length')" 1 "the narrow tunnel's policy lost"
expect_eq "$(json_get "$(xctl west explain 10.1.0.1 10.9.9.9 icmp --json)" .verdict)" clear-no-policy "no policy: in clear"
ip -n west xfrm state delete src 192.0.2.1 dst 192.0.2.2 proto esp spi 0x2401
expect_eq "$(json_get "$(xctl west explain 10.1.0.1 10.2.0.1 icmp --json)" .verdict)" dropped-no-sa "no SA: dropped"
expect_rc 0 "explain in words" xctl west explain 10.1.0.1 10.2.0.1 icmp
expect_contains "$OUT" "verdict:  dropped: tunnel wide requires an SA that is not there" "says so in words"
