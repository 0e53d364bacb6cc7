#!/bin/bash
# A manual AEAD key installed once is refused after the kernel lost its SA
# (the reboot case); the tunnel's traffic is then dropped, never sent in
# clear, until the key is rolled. A non-AEAD key is reinstalled with a
# warning.
. "$XFRMCTL_REPO/tests/uml/lib.sh"
two_hosts
pair gcm tunnel esp '"aes256gcm16"' 0xd000 4 yes
pair cbc transport esp '"aes256-sha256"' 0xd100 4
expect_rc 0 "apply west" xctl west apply
expect_rc 0 "apply east" xctl east apply
ping_ok west -I 10.1.0.1 10.2.0.1

log "the kernel loses everything, as after a reboot"
ip -n west xfrm state flush
ip -n west xfrm policy flush
expect_rc 1 "apply refuses to install the used AEAD keys" xctl west apply
expect_contains "$OUT" "/tunnels/gcm/keying/outbound" "names the outbound key"
expect_contains "$OUT" "/tunnels/gcm/keying/inbound" "and the inbound one"
expect_contains "$OUT" "roll the key" "tells the operator what to do"
expect_not_contains "$OUT" "$(cat "$WORK/keys/gcm.esp.w2e")" "never shows the key"
expect_contains "$OUT" "warning: " "the reused CBC key only warns"
expect_eq "$(ip -n west xfrm state list spi 0xd001)" "" "the used AEAD key is not installed"
expect_contains "$(ip -n west xfrm state list spi 0xd101)" "spi 0x0000d101" "the CBC SA is reinstalled"
expect_contains "$(ip -n west xfrm policy list src 10.1.0.0/24)" "tmpl src 192.0.2.1" "the AEAD tunnel's policies are in (fail closed)"
expect_rc 3 "status: the tunnel is down" xctl west status

log "its traffic is dropped, not sent in clear"
dropped_ping west -I 10.1.0.1 10.2.0.1
expect_rc 1 "apply again: still refused, nothing else to do" xctl west apply

log "rolling the key brings it back"
rm "$WORK/keys/gcm."*
pair gcm tunnel esp '"aes256gcm16"' 0xd200 4 yes
expect_rc 0 "apply west with the rolled key" xctl west apply
expect_rc 0 "apply east with the rolled key" xctl east apply
protected_ping esp west -I 10.1.0.1 10.2.0.1
expect_rc 0 "status: up" xctl west status gcm
