#!/bin/bash
# xfrmd repairs what others break, and only what it owns: an owned policy
# deleted or changed by hand is back within a second, a deleted SA with a
# key that may be installed again is put back, a deleted AEAD SA is not
# (its key must be rolled: the tunnel is down, its traffic dropped), and
# entries made by hand never appear in any change. xfrmctl hands its
# commands to the daemon, which only root may reach.
. "$XFRMCTL_REPO/tests/uml/lib.sh"
two_hosts
pair gcm tunnel esp '"aes256gcm16"' 0x4000 4 yes
pair cbc tunnel esp '"aes256-sha256"' 0x4100 6 yes
expect_rc 0 "apply east (no daemon there)" xctl east apply
xfrmd_start west
ping_ok west -I 10.1.0.1 10.2.0.1

log "entries made by hand on west"
ip -n west xfrm policy add src 10.9.0.0/24 dst 10.8.0.0/24 dir out priority 5 tmpl src 192.0.2.1 dst 192.0.2.9 proto esp mode tunnel
ip -n west xfrm state add src 192.0.2.1 dst 192.0.2.9 proto esp spi 0x9999 mode tunnel enc 'cbc(aes)' 0x00112233445566778899aabbccddeeff
foreign_before=$(ip -n west xfrm policy list src 10.9.0.0/24; ip -n west xfrm state list spi 0x9999 | grep -v seq)

# repaired_within NAME COMMAND...: after a breakage, milliseconds until the
# command succeeds (it must within a second).
repaired_within() {
    local what=$1 start elapsed
    shift
    start=${EPOCHREALTIME/./}000
    until "$@" > /dev/null 2>&1; do
        elapsed=$(((${EPOCHREALTIME/./}000 - start) / 1000000))
        [ "$elapsed" -lt 3000 ] || break
        nap 0.01
    done
    elapsed=$(((${EPOCHREALTIME/./}000 - start) / 1000000))
    log "$what: repaired after $elapsed ms"
    [ "$elapsed" -le 1000 ] && pass "$what: back within a second" || fail "$what: not back within a second ($elapsed ms)"
}
outbound_policy_ok() { ip -n west xfrm policy get dir out src 10.1.0.0/24 dst 10.2.0.0/24 | grep -q 'proto esp'; }

log "an owned policy deleted by hand, five times"
for i in 1 2 3 4 5; do
    ip -n west xfrm policy delete dir out src 10.1.0.0/24 dst 10.2.0.0/24
    repaired_within "outbound policy deleted ($i)" outbound_policy_ok
done
ping_ok west -I 10.1.0.1 10.2.0.1

log "an owned policy changed by hand (its template taken away: traffic would go in clear)"
priority=$(ip -n west xfrm policy get dir out src 10.1.0.0/24 dst 10.2.0.0/24 | awk '/priority/ { print $4 }')
ip -n west xfrm policy update dir out src 10.1.0.0/24 dst 10.2.0.0/24 priority "$priority" action allow
repaired_within "outbound policy changed" outbound_policy_ok

log "an owned SA with a non-AEAD key deleted by hand: put back (the replay warning is logged)"
ip -n west xfrm state delete src 2001:db8::1 dst 2001:db8::2 proto esp spi 0x4101
repaired_within "cbc outbound SA deleted" ip -n west xfrm state get src 2001:db8::1 dst 2001:db8::2 proto esp spi 0x4101
expect_contains "$(cat "$WORK/west/xfrmd.log")" "was installed on this host before; the peer's replay window" \
    "the daemon warned that the peer's replay window will drop traffic"

log "an owned AEAD SA deleted by hand: never installed again with its used key"
ip -n west xfrm state delete src 192.0.2.1 dst 192.0.2.2 proto esp spi 0x4001
nap 2
expect_eq "$(ip -n west xfrm state list spi 0x4001)" "" "the AEAD SA stays gone"
expect_rc 3 "status gcm: not up" xctl west status gcm
expect_contains "$OUT" "key must be rolled" "status says the key must be rolled"
expect_rc 3 "status --json" xctl west status --json gcm
expect_eq "$(json_get "$OUT" '.tunnels[0].state')" down "the tunnel is down"
health=$(events west health | jq -c 'select(.tunnel == "gcm")' | tail -1)
expect_eq "$(json_get "$health" .state)" down "a health event: gcm down"
expect_contains "$(json_get "$health" .reason)" "installed on this host before" "with the reason"
dropped_ping west -I 10.1.0.1 10.2.0.1

log "the key rolled (new key files and SPIs on both ends): up again, through xfrmctl apply"
tunnel_keys gcm esp aes256gcm16
for host in west east; do
    amend $host gcm.json '.tunnels.gcm.keying.outbound.spi |= (if . == "0x4001" then "0x4011" else "0x4012" end)
                         | .tunnels.gcm.keying.inbound.spi |= (if . == "0x4001" then "0x4011" else "0x4012" end)'
done
expect_rc 0 "apply east" xctl east apply
expect_rc 0 "apply west (handed to xfrmd)" xctl west apply --json
expect_eq "$(json_get "$OUT" .changed)" true "the daemon's answer: changed"
expect_eq "$(events west changed | jq -r 'select(.why == "xfrmctl apply") | .action' | sort -u | tr '\n' ' ')" \
    "add remove " "the daemon made the change (its events say why: xfrmctl apply)"
nap 1.5
expect_rc 0 "status: all up" xctl west status
ping_ok west -I 10.1.0.1 10.2.0.1

log "the entries made by hand were never touched"
expect_eq "$(ip -n west xfrm policy list src 10.9.0.0/24; ip -n west xfrm state list spi 0x9999 | grep -v seq)" \
    "$foreign_before" "the foreign policy and SA are as they were"
expect_eq "$(grep -c -e 10.9.0.0 -e 0x00009999 "$WORK/west/state/events.jsonl" || true)" 0 \
    "no event of the daemon names them"

log "bad definitions through xfrmctl apply: refused, the daemon keeps the last good ones"
before=$(entries west)
cp "$WORK/west/defs/gcm.json" "$WORK/gcm.json.good"
amend west gcm.json '.tunnels.gcm.remote.address = "192.0.2.300"'
expect_rc 1 "apply with a bad address" xctl west apply
expect_contains "$OUT" "/tunnels/gcm/remote/address" "the error names the JSON path"
expect_eq "$(entries west)" "$before" "the kernel is as it was"
cp "$WORK/gcm.json.good" "$WORK/west/defs/gcm.json"
expect_rc 1 "apply with another -c" in_ns west "$XFRMCTL" -c "$WORK/elsewhere" --socket "$WORK/west/run/xfrmd.sock" apply
expect_contains "$OUT" "xfrmd keeps" "refused: the daemon keeps other definitions"

log "only root may talk to xfrmd"
nobody() { in_ns west setpriv --reuid=65534 --regid=65534 --clear-groups "$XFRMCTL" --socket "$WORK/west/run/xfrmd.sock" "$@"; }
expect_rc 1 "status as nobody" nobody status
expect_contains "$OUT" "Permission denied" "the socket's directory keeps others out"
chmod 755 "$WORK" "$WORK/west" "$WORK/west/run"
chmod 666 "$WORK/west/run/xfrmd.sock"
expect_rc 1 "status as nobody, through an opened socket" nobody status
expect_contains "$OUT" "only root may control xfrmd" "the daemon checks the peer's credentials too"
chmod 700 "$WORK/west/run"

log "down through the daemon stays down: no repair brings it back"
expect_rc 0 "down cbc" xctl west down cbc
nap 1.5
expect_eq "$(ip -n west xfrm policy list src 2001:db8:1::/64)" "" "cbc's policies are gone and stay gone"
expect_rc 3 "status: cbc down" xctl west status cbc
expect_contains "$OUT" "xfrmctl down" "because it was taken down"
expect_rc 0 "apply brings it back" xctl west apply
expect_ne "$(ip -n west xfrm policy list src 2001:db8:1::/64)" "" "cbc's policies are back"
xfrmd_stop west
teardown
exit $FAILED
