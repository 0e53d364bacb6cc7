#!/bin/bash
# Interop: west is configured by xfrmctl, east only by plain `ip xfrm`
# commands. Two tunnels: AES-GCM in tunnel mode, and AES-CBC with
# HMAC-SHA-256 in transport mode, so that both key layouts (key then salt;
# cipher key then integrity key) are checked against iproute2's reading.
. "$XFRMCTL_REPO/tests/uml/lib.sh"
two_hosts

pair gcm tunnel esp '"aes256gcm16"' 0x7000 4 yes
pair cbc transport esp '"aes256-sha256"' 0x7100 4
rm -rf "$WORK/east/defs" # east is configured by hand below
expect_rc 0 "apply west" xctl west apply

key() { cat "$WORK/keys/$1"; }
gcm_key() { echo "0x$(key "$1")"; }
# aes256-sha256 key files hold the 32-byte cipher key, then the 32-byte
# integrity key.
cbc_part() { local k; k=$(key "$1"); [ "$2" = enc ] && echo "0x${k:0:64}" || echo "0x${k:64:64}"; }

log "east by hand with ip xfrm"
ip -n east xfrm state add src 192.0.2.1 dst 192.0.2.2 proto esp spi 0x7001 reqid 71 mode tunnel \
    aead 'rfc4106(gcm(aes))' "$(gcm_key gcm.esp.w2e)" 128
ip -n east xfrm state add src 192.0.2.2 dst 192.0.2.1 proto esp spi 0x7002 reqid 71 mode tunnel \
    aead 'rfc4106(gcm(aes))' "$(gcm_key gcm.esp.e2w)" 128
ip -n east xfrm policy add src 10.2.0.0/24 dst 10.1.0.0/24 dir out \
    tmpl src 192.0.2.2 dst 192.0.2.1 proto esp reqid 71 mode tunnel
for dir in in fwd; do
    ip -n east xfrm policy add src 10.1.0.0/24 dst 10.2.0.0/24 dir $dir \
        tmpl src 192.0.2.1 dst 192.0.2.2 proto esp reqid 71 mode tunnel
done
ip -n east xfrm state add src 192.0.2.1 dst 192.0.2.2 proto esp spi 0x7101 reqid 72 mode transport \
    enc 'cbc(aes)' "$(cbc_part cbc.esp.w2e enc)" auth-trunc 'hmac(sha256)' "$(cbc_part cbc.esp.w2e auth)" 128
ip -n east xfrm state add src 192.0.2.2 dst 192.0.2.1 proto esp spi 0x7102 reqid 72 mode transport \
    enc 'cbc(aes)' "$(cbc_part cbc.esp.e2w enc)" auth-trunc 'hmac(sha256)' "$(cbc_part cbc.esp.e2w auth)" 128
ip -n east xfrm policy add src 192.0.2.2 dst 192.0.2.1 dir out tmpl proto esp reqid 72 mode transport
ip -n east xfrm policy add src 192.0.2.1 dst 192.0.2.2 dir in tmpl proto esp reqid 72 mode transport

log "AES-GCM tunnel between xfrmctl and ip xfrm"
protected_ping esp west -I 10.1.0.1 10.2.0.1
counters_rise east 0x7001 0x7002
# iproute2's "stats: replay-window N replay N failed N": failed is integrity.
expect_eq "$(ip -n east -s xfrm state list spi 0x7001 | awk '/replay-window [0-9]+ replay/ {print $NF}')" 0 \
    "no integrity failures at east"

log "AES-CBC + HMAC-SHA-256 transport between xfrmctl and ip xfrm"
protected_ping esp west 192.0.2.2
counters_rise east 0x7101 0x7102
counters_rise west 0x7101 0x7102

log "xfrmctl's entries read back by iproute2 as the definition says"
state=$(ip -n west xfrm state list spi 0x7001)
expect_contains "$state" "aead rfc4106(gcm(aes))" "AEAD algorithm"
expect_contains "$state" "mode tunnel" "tunnel mode"
expect_contains "$(ip -n west xfrm state list spi 0x7102)" "replay-window 0" "inbound SA: bitmap replay state"
expect_contains "$(ip -n west xfrm state list spi 0x7102)" "auth-trunc hmac(sha256)" "truncated HMAC"
