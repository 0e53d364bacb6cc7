#!/bin/bash
# ESP transport mode between two hosts, both ends from JSON.
. "$XFRMCTL_REPO/tests/uml/lib.sh"
two_hosts
pair hosts transport esp '"aes128gcm16"' 0x2000 4
expect_rc 0 "apply west" xctl west apply
expect_rc 0 "apply east" xctl east apply
protected_ping esp west 192.0.2.2
expect_contains "$(capture_text protected)" "ESP(spi=0x00002001" "west's SPI on the wire"
counters_rise west 0x2001 0x2002
counters_rise east 0x2001 0x2002
expect_rc 0 "status: up at west" xctl west status
expect_rc 0 "status: up at east" xctl east status
