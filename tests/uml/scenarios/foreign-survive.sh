#!/bin/bash
# Entries made by hand with ip xfrm, before and after xfrmctl's, survive
# apply, down --all and the removal of every tunnel, byte for byte.
. "$XFRMCTL_REPO/tests/uml/lib.sh"
two_hosts
K=0x0123456789abcdef0123456789abcdef01234567
foreign_state() { ip -n west xfrm state list spi "$1"; }
foreign_policy() { ip -n west xfrm policy list src "$1"; }
snapshot() { for spi in 0x9901 0x9902; do foreign_state $spi; done; for s in 172.16.0.0/16 172.18.0.0/16; do foreign_policy $s; done; }

log "foreign entries made before"
ip -n west xfrm state add src 192.0.2.1 dst 192.0.2.99 proto esp spi 0x9901 reqid 99 mode tunnel aead 'rfc4106(gcm(aes))' $K 128
ip -n west xfrm policy add src 172.16.0.0/16 dst 172.17.0.0/16 dir out tmpl src 192.0.2.1 dst 192.0.2.99 proto esp reqid 99 mode tunnel
pair one tunnel esp '"aes256gcm16"' 0xa000 4 yes
pair two transport esp '"chacha20poly1305"' 0xa100 4
expect_rc 0 "apply west" xctl west apply
expect_rc 0 "apply east" xctl east apply

log "foreign entries made after"
ip -n west xfrm state add src 192.0.2.1 dst 192.0.2.98 proto ah spi 0x9902 reqid 98 mode transport auth-trunc 'hmac(sha256)' ${K}0123456789abcdef01234567 128
ip -n west xfrm policy add src 172.18.0.0/16 dst 172.19.0.0/16 dir in priority 5 tmpl proto ah reqid 98 mode transport
foreign=$(snapshot)
expect_eq "$(echo "$foreign" | grep -c '^src')" 4 "four foreign entries"

log "a change and a re-apply"
rm "$WORK/keys/two."*
pair two transport esp '"chacha20poly1305"' 0xa200 4
expect_rc 0 "apply a change" xctl west apply
expect_eq "$(snapshot)" "$foreign" "foreign entries unchanged by apply"

log "down --all"
expect_rc 0 "down --all" xctl west down --all
expect_eq "$(snapshot)" "$foreign" "foreign entries unchanged by down --all"
expect_eq "$(ip -n west xfrm state list | grep -c '^src')" 2 "only the two foreign SAs are left"
expect_eq "$(ip -n west xfrm policy list | grep -c '^src')" 2 "only the two foreign policies are left"
expect_rc 3 "status: down" xctl west status

log "back up with rolled keys, then every tunnel removed"
rm "$WORK/keys/"*
pair one tunnel esp '"aes256gcm16"' 0xa300 4 yes
pair two transport esp '"chacha20poly1305"' 0xa400 4
expect_rc 0 "apply with new keys" xctl west apply
expect_eq "$(ip -n west xfrm state list | grep -c '^src')" 6 "four SAs of ours and two foreign"
rm "$WORK/west/defs/"*.json
expect_rc 0 "apply with no tunnel defined" xctl west apply
expect_eq "$(snapshot)" "$foreign" "foreign entries unchanged by removing every tunnel"
expect_eq "$(ip -n west xfrm state list | grep -c '^src')" 2 "only foreign SAs left"
expect_eq "$(ip -n west xfrm policy list | grep -c '^src')" 2 "only foreign policies left"

log "a foreign entry where a tunnel wants one blocks that tunnel, and only it"
pair three transport esp '"aes256gcm16"' 0xa500 4
pair four tunnel esp '"aes256gcm16"' 0xa600 4 yes
ip -n west xfrm state add src 192.0.2.2 dst 192.0.2.1 proto esp spi 0xa502 reqid 97 mode transport aead 'rfc4106(gcm(aes))' $K 128
squatter=$(foreign_state 0xa502)
expect_rc 1 "apply refuses tunnel three" xctl west apply
expect_contains "$OUT" "xfrmctl did not install" "the message says whose entry it is"
expect_contains "$OUT" "/tunnels/three/keying/inbound" "and where the definition asks for it"
expect_eq "$(foreign_state 0xa502)" "$squatter" "the foreign SA is untouched"
expect_eq "$(ip -n west xfrm state list spi 0xa501)" "" "nothing of tunnel three went in"
expect_contains "$(ip -n west xfrm state list spi 0xa601)" "spi 0x0000a601" "tunnel four went in"
expect_eq "$(snapshot)" "$foreign" "the other foreign entries unchanged"
