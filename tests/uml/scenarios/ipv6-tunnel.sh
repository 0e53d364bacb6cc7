#!/bin/bash
# An IPv6 ESP tunnel between two IPv6 subnets.
. "$XFRMCTL_REPO/tests/uml/lib.sh"
two_hosts
pair v6 tunnel esp '"aes256gcm16"' 0x6000 6 yes
expect_rc 0 "apply west" xctl west apply
expect_rc 0 "apply east" xctl east apply
protected_ping esp west -6 -I 2001:db8:1::1 2001:db8:2::1
expect_contains "$(capture_text protected)" "2001:db8::1 > 2001:db8::2: ESP(spi=0x00006001" "IPv6 ESP between the endpoints"
counters_rise west 0x6001 0x6002
counters_rise east 0x6001 0x6002
status=$(xctl west status --json)
expect_eq "$(json_get "$status" '.tunnels[0].state')" up "status: up"
