#!/bin/bash
# ESP tunnel mode between two subnets, both ends from JSON: ping passes, the
# SA byte counters rise on both ends, and the wire carries only ESP.
. "$XFRMCTL_REPO/tests/uml/lib.sh"
two_hosts

log "control: without the tunnel the payload crosses the wire in clear"
capture_start clear
ping_ok west -I 10.1.0.1 10.2.0.1
capture_stop clear
expect_gt "$(capture_count clear icmp)" 0 "clear ICMP seen without the tunnel"
expect_eq "$(capture_has_pattern clear)" 1 "payload pattern seen without the tunnel"

log "both ends from JSON"
pair site tunnel esp '"aes256gcm16"' 0x10000a00 4 yes
expect_rc 0 "validate west" xctl west validate
expect_rc 2 "plan west shows pending changes" xctl west plan
expect_rc 0 "apply west" xctl west apply
expect_rc 0 "apply east" xctl east apply
expect_rc 0 "plan west: nothing left to do" xctl west plan

log "traffic through the tunnel"
capture_start tunnel
ping_ok west -I 10.1.0.1 10.2.0.1
capture_stop tunnel
expect_eq "$(capture_count tunnel icmp)" 0 "no clear ICMP on the wire"
expect_gt "$(capture_count tunnel esp)" 9 "ESP on the wire (5 requests, 5 replies)"
expect_eq "$(capture_count tunnel 'not esp and not arp and not icmp6')" 0 "nothing but ESP (and neighbour discovery)"
expect_eq "$(capture_has_pattern tunnel)" 0 "payload pattern never in clear"
expect_contains "$(capture_text tunnel)" "ESP(spi=0x10000a01" "west's outbound SPI on the wire"
expect_contains "$(capture_text tunnel)" "ESP(spi=0x10000a02" "east's outbound SPI on the wire"

log "counters on both ends"
expect_gt "$(sa_counter west 0x10000a01 bytes)" 0 "west outbound SA bytes (ip xfrm)"
expect_gt "$(sa_counter west 0x10000a02 bytes)" 0 "west inbound SA bytes (ip xfrm)"
expect_gt "$(sa_counter east 0x10000a01 bytes)" 0 "east inbound SA bytes (ip xfrm)"
expect_gt "$(sa_counter east 0x10000a02 bytes)" 0 "east outbound SA bytes (ip xfrm)"
expect_rc 0 "status west: up" xctl west status
status=$(xctl west status --json)
expect_eq "$(json_get "$status" '.tunnels[0].state')" up "status --json state"
expect_eq "$(json_get "$status" '.tunnels[0].packets_out')" 5 "status counts 5 packets out"
expect_eq "$(json_get "$status" '.tunnels[0].packets_in')" 5 "status counts 5 packets in"
expect_eq "$(json_get "$status" '.tunnels[0].bytes_in')" "$(sa_counter west 0x10000a02 bytes)" "status bytes in match ip xfrm"
echo "$(xctl west status)"
