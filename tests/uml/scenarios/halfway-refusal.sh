#!/bin/bash
# A definition that the kernel refuses halfway: the tunnel is left exactly as
# it was, the other tunnels are applied, and the error names the tunnel and
# carries the kernel's reason.
#
# Probing would find the missing algorithm before anything is written (that
# is checked first); --no-probe stands for a kernel that changed between
# the probe and the write.
#
# How: once the first tunnels are in (so GCM's modules are loaded), module
# autoloading is switched off; ChaCha20-Poly1305's modules were never
# loaded, so the kernel cannot build rfc7539esp(chacha20,poly1305). A tunnel
# changed to an AH+ESP(chacha20poly1305) bundle gets its AH SAs and its
# policy updates in, and has its ESP SAs refused.
. "$XFRMCTL_REPO/tests/uml/lib.sh"
lsmod | grep -q '^chacha20poly1305' && fail "chacha20poly1305 must not be loaded for this test"
two_hosts
pair steady tunnel esp '"aes256gcm16"' 0xb000 4 yes
pair changing transport esp '"aes128gcm16"' 0xb100 4
expect_rc 0 "apply west" xctl west apply
expect_rc 0 "apply east" xctl east apply
ping_ok west 192.0.2.2
changing_before=$(ip -n west xfrm state list spi 0xb101; ip -n west xfrm state list spi 0xb102;
    ip -n west xfrm policy list src 192.0.2.1/32; ip -n west xfrm policy list src 192.0.2.2/32)
steady_before=$(ip -n west -s xfrm state list spi 0xb001 | grep 'add 20')
echo > /proc/sys/kernel/modprobe

log "change: 'changing' becomes an AH+ESP(chacha20poly1305) bundle, and a new tunnel comes"
rm "$WORK/keys/changing."*
pair changing transport ah+esp '{"ah": "sha256", "esp": "chacha20poly1305"}' 0xb200 4
pair newcomer tunnel esp '"aes256gcm16"' 0xc000 6 yes
expect_rc 1 "probing finds what is missing" xctl west apply
expect_contains "$OUT" "/tunnels/changing/proposal/esp: chacha20poly1305 needs the kernel's rfc7539esp(chacha20,poly1305)" \
    "and says what"
expect_eq "$(ip -n west xfrm state list spi 0xc001)" "" "nothing was written"
monitor_start west
expect_rc 1 "apply refuses one tunnel" xctl west --no-probe apply
events=$(monitor_stop west)
expect_contains "$OUT" "/tunnels/changing/keying" "the error names the tunnel's definition"
expect_contains "$OUT" "Requested AEAD algorithm not found" "with the kernel's own reason"
expect_contains "$OUT" "tunnel changing was left as it was" "and says the tunnel was left as it was"
expect_contains "$events" "proto ah spi 0x0000b301" "the kernel did take the bundle's AH SA at first (halfway)"
expect_contains "$events" "Deleted src 192.0.2.1 dst 192.0.2.2" "and it was taken out again"

log "the refused tunnel is as it was"
changing_after=$(ip -n west xfrm state list spi 0xb101; ip -n west xfrm state list spi 0xb102;
    ip -n west xfrm policy list src 192.0.2.1/32; ip -n west xfrm policy list src 192.0.2.2/32)
expect_eq "$changing_after" "$changing_before" "its SAs and policies are unchanged"
for spi in 0xb201 0xb202 0xb301 0xb302; do
    expect_eq "$(ip -n west xfrm state list spi $spi)" "" "no SA $spi of the new bundle is left behind"
done
ping_ok west 192.0.2.2 # through the old SAs, with east still on the old definition
expect_eq "$(ip -n west -s xfrm state list spi 0xb001 | grep 'add 20')" "$steady_before" "the steady tunnel untouched"

log "the other tunnels were applied"
expect_contains "$(ip -n west xfrm state list spi 0xc001)" "spi 0x0000c001" "the new tunnel is in"

log "once the kernel has ChaCha20-Poly1305, the same definition goes in (the refused keys were never used)"
echo /run/modprobe > /proc/sys/kernel/modprobe # module autoloading back on
expect_rc 0 "apply west again" xctl west apply
expect_contains "$(ip -n west xfrm state list spi 0xc001)" "spi 0x0000c001" "new tunnel still in"
expect_contains "$(ip -n west xfrm state list spi 0xb201)" "spi 0x0000b201" "the bundle is in now"
expect_rc 0 "apply east" xctl east apply
protected_ping ah west 192.0.2.2
