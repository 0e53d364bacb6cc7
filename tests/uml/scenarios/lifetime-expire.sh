#!/bin/bash
# Lifetimes on the kernel's SAs, and their expiry events through
# `xfrmctl monitor`: a tiny byte limit gives the soft event, then the hard
# one; then the SA is gone and the tunnel's traffic is dropped, not sent in
# clear.
. "$XFRMCTL_REPO/tests/uml/lib.sh"
two_hosts
pair short tunnel esp '"aes256gcm16"' 0x1200 4 yes
amend west short.json '.tunnels.short.lifetime = {"soft": {"bytes": 600}, "hard": {"bytes": 1200}}'
expect_rc 0 "apply west" xctl west apply
expect_rc 0 "apply east" xctl east apply
limits=$(ip -n west -s xfrm state list spi 0x1201)
expect_contains "$limits" "limit: soft 600(bytes), hard 1200(bytes)" "the byte limits are on the kernel's SA"

xctl west monitor --json > "$WORK/events" 2>&1 &
monitor=$!
nap 1
log "traffic until the hard limit"
set +e
ip netns exec west ping -q -c 20 -i 0.2 -W 1 -I 10.1.0.1 10.2.0.1 > /dev/null 2>&1
set -e
nap 1
kill $monitor 2>/dev/null || true
wait $monitor 2>/dev/null || true
cat "$WORK/events"
soft=$(jq -c 'select(.event == "sa-expired" and .hard == false and .spi == "0x00001201")' "$WORK/events" | head -1)
hard=$(jq -c 'select(.event == "sa-expired" and .hard == true and .spi == "0x00001201")' "$WORK/events" | head -1)
expect_ne "$soft" "" "a soft expiry event for the outbound SA"
expect_ne "$hard" "" "then a hard one"
expect_eq "$(json_get "$soft" .tunnel)" short "naming the tunnel"
expect_gt "$(json_get "$hard" .bytes)" 1199 "the hard one came at the byte limit"
first_soft=$(grep -n '"hard":false' "$WORK/events" | grep 0x00001201 | head -1 | cut -d: -f1)
first_hard=$(grep -n '"hard":true' "$WORK/events" | grep 0x00001201 | head -1 | cut -d: -f1)
expect_gt "$first_hard" "$first_soft" "soft came before hard"
expect_eq "$(ip -n west xfrm state list spi 0x1201)" "" "the hard expiry removed the SA"

log "the expired tunnel drops its traffic"
dropped_ping west -I 10.1.0.1 10.2.0.1
expect_rc 3 "status: down" xctl west status
expect_contains "$OUT" "outbound SA spi 0x00001201 is missing" "and why"

log "monitor --count stops by itself; events of entries that are not ours are not shown"
xctl west monitor --json --count 1 > "$WORK/one" 2>&1 &
monitor=$!
nap 1
ip -n west xfrm state add src 192.0.2.1 dst 192.0.2.9 proto esp spi 0x999 mode tunnel enc 'cbc(aes)' 0x00112233445566778899aabbccddeeff
ip -n west xfrm state delete src 192.0.2.2 dst 192.0.2.1 proto esp spi 0x1202
wait $monitor
expect_eq "$(wc -l < "$WORK/one")" 1 "one event, then it stopped"
expect_eq "$(jq -r .event "$WORK/one")" sa-deleted "the deletion of our SA, not the foreign addition"
expect_eq "$(jq -r .tunnel "$WORK/one")" short "of tunnel short"
