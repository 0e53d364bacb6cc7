#!/bin/bash
# AH+ESP bundles: in transport mode, then in tunnel mode (ESP carries the
# tunnel, AH covers it in transport mode: outer IP | AH | ESP | inner IP).
. "$XFRMCTL_REPO/tests/uml/lib.sh"
two_hosts

log "transport mode bundle"
pair bundle transport ah+esp '{"ah": "sha512", "esp": "aes256-sha256"}' 0x4000 4
expect_rc 0 "apply west" xctl west apply
expect_rc 0 "apply east" xctl east apply
protected_ping ah west 192.0.2.2
expect_eq "$(capture_has_pattern protected)" 0 "the payload never crosses in clear"
text=$(capture_text protected)
expect_contains "$text" "spi=0x00004101,seq=0x1" "AH outside"
expect_contains "$text" "ESP(spi=0x00004001" "ESP inside AH"
expect_eq "$(capture_count protected 'ip proto 50')" 0 "no packet with ESP outermost"
counters_rise west 0x4001 0x4002 0x4101 0x4102
counters_rise east 0x4001 0x4002 0x4101 0x4102

log "tunnel mode bundle replaces it"
rm "$WORK/west/defs/bundle.json" "$WORK/east/defs/bundle.json"
pair tbundle tunnel ah+esp '{"ah": "sha384", "esp": "chacha20poly1305"}' 0x5000 4 yes
expect_rc 0 "apply west" xctl west apply
expect_rc 0 "apply east" xctl east apply
expect_eq "$(ip -n west xfrm state list spi 0x4001)" "" "the transport bundle's SAs are gone"
expect_eq "$(ip -n west xfrm policy list src 192.0.2.1/32 dst 192.0.2.2/32)" "" "and its policies"
protected_ping ah west -I 10.1.0.1 10.2.0.1
expect_eq "$(capture_has_pattern protected)" 0 "the payload never crosses in clear"
text=$(capture_text protected)
expect_contains "$text" "192.0.2.1 > 192.0.2.2: AH(" "AH over the tunnel endpoints"
expect_contains "$text" "spi=0x00005101,seq=0x1" "west's AH SPI"
expect_contains "$text" "ESP(spi=0x00005001" "ESP inside AH"
counters_rise west 0x5001 0x5002 0x5101 0x5102
counters_rise east 0x5001 0x5002 0x5101 0x5102
