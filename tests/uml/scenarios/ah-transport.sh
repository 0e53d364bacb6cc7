#!/bin/bash
# AH transport mode: authenticated, not encrypted.
. "$XFRMCTL_REPO/tests/uml/lib.sh"
two_hosts
pair hosts transport ah '"sha256"' 0x3000 4
expect_rc 0 "apply west" xctl west apply
expect_rc 0 "apply east" xctl east apply
protected_ping ah west 192.0.2.2
expect_contains "$(capture_text protected)" "spi=0x00003101,seq=0x1" "west's AH SPI on the wire"
expect_eq "$(capture_has_pattern protected)" 1 "AH leaves the payload readable (it only authenticates)"
counters_rise west 0x3101 0x3102
counters_rise east 0x3101 0x3102
