#!/bin/bash
# Kernel capability probing: what this kernel supports, found by asking it
# (in a throwaway namespace of a child), and a definition it cannot carry
# refused at validation time with what is missing.
. "$XFRMCTL_REPO/tests/uml/lib.sh"
two_hosts
caps=$(xctl west capabilities --json)
supported() { json_get "$caps" "[.transforms[] | select(.proposal == \"$1\" and .family == \"$2\" and .esn == false)][0].supported"; }
for proposal in aes128gcm16 aes256gcm16 chacha20poly1305 aes256-sha512 sha384; do
    expect_eq "$(supported $proposal ipv4)" true "$proposal over IPv4"
    expect_eq "$(supported $proposal ipv6)" true "$proposal over IPv6"
done
expect_eq "$(json_get "$caps" '[.transforms[] | select(.esn)][0].supported')" true "ESN"
expect_eq "$(json_get "$caps" .ipcomp_ipv4)" true "IPComp"
expect_eq "$(json_get "$caps" .vti)" true "VTI"
expect_eq "$(json_get "$caps" .xfrm_interfaces)" true "XFRM interfaces"
expect_eq "$(json_get "$caps" .sa_direction)" false "no SA direction before Linux 6.10"
expect_eq "$(ip -n west xfrm state list)" "" "the probe left nothing in the host's namespace"
expect_eq "$(ip netns list | wc -l)" 3 "nor a namespace"

log "a kernel without ChaCha20-Poly1305"
modprobe_helper=$(cat /proc/sys/kernel/modprobe)
echo > /proc/sys/kernel/modprobe
rmmod chacha20poly1305 chacha_generic poly1305_generic 2>/dev/null || true
lsmod | grep -q '^chacha20poly1305' && fail "could not unload chacha20poly1305 for this test"
caps=$(xctl west capabilities --json)
expect_eq "$(supported chacha20poly1305 ipv4)" false "ChaCha20-Poly1305 missing once its modules cannot load"
pair chacha tunnel esp '"chacha20poly1305"' 0x1700 4 yes
expect_rc 1 "validate refuses the tunnel" xctl west validate
expect_contains "$OUT" "/tunnels/chacha/proposal: chacha20poly1305 needs the kernel's rfc7539esp(chacha20,poly1305); this kernel does not have it" \
    "naming the place and what is missing"

log "the probe's answer kept for the boot"
cache=$WORK/west/run/capabilities.json
inode=$(stat -c %i "$cache")
expect_rc 1 "validate again" xctl west validate
expect_contains "$OUT" "chacha20poly1305 needs the kernel's rfc7539esp(chacha20,poly1305)" "the same refusal"
expect_eq "$(stat -c %i "$cache")" "$inode" "answered from the cache (not rewritten, so not probed)"
echo "$modprobe_helper" > /proc/sys/kernel/modprobe
expect_rc 0 "modules loadable again: the cached refusal is not believed, the probe loads them" xctl west validate
expect_eq "$(stat -c %i "$cache")" "$inode" "validate writes nothing, not even the cache (a check touches nothing)"
lsmod | grep -q '^chacha20poly1305' || fail "the probe did not load chacha20poly1305"
expect_rc 0 "and with chacha20poly1305 loaded (another module set), validate still passes" xctl west validate
expect_rc 0 "validate --no-probe checks the definitions alone" xctl west --no-probe validate
pair route tunnel esp '"aes256gcm16"' 0x1800 4 yes
rm "$WORK/west/defs/chacha.json"
# Every link kind is built into the test kernel: refusing one it lacks is
# checked in tests/unit/test_check_support.cpp.
for kind in xfrm vti; do
    amend west route.json ".tunnels.route.interface = {\"name\": \"ipsec0\", \"kind\": \"$kind\"}"
    expect_rc 0 "a route-based tunnel on a $kind link is accepted" xctl west validate
done
