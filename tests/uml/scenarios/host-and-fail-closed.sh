#!/bin/bash
# Host-wide settings and failing closed:
# - the SPD hash thresholds follow the definitions' prefixes, so that a
#   thousand subnet policies are hashed, not searched;
# - a kernel default policy of "block", with a bypass for what must stay
#   reachable, and the kernel's own default put back when no longer asked;
# - a tunnel whose SAs someone deletes drops its traffic: nothing in clear.
. "$XFRMCTL_REPO/tests/uml/lib.sh"
two_hosts
pair site tunnel esp '"aes256gcm16"' 0x1300 4 yes

log "SPD hash thresholds from the definitions"
expect_contains "$(ip -n west -s -s xfrm policy count)" "SPD IPv4 thresholds: local 32 remote 32" "the kernel starts at 32/32"
# A thousand /24 pairs: 40 local subnets x 25 remote ones, on top of the tunnel.
subnets() { seq 0 $(($2 - 1)) | sed "s|.*|\"$1.&.0/24\"|" | paste -sd, | sed 's/^/[/; s/$/]/'; }
amend west site.json ".tunnels.site.local.subnets += $(subnets 10.100 40) | .tunnels.site.remote.subnets += $(subnets 10.200 25)"
expect_rc 0 "apply west" xctl west apply
expect_contains "$OUT" "spd hash thresholds IPv4 32/32 -> 24/24" "the plan lowers them to the narrowest prefixes"
expect_contains "$(ip -n west -s -s xfrm policy count)" "SPD IPv4 thresholds: local 24 remote 24" "the kernel has 24/24"
expect_gt "$(ip -n west xfrm policy list | grep -c '^src')" 3000 "over 3000 policies installed"
expect_rc 0 "apply again" xctl west apply --json
expect_eq "$(json_get "$OUT" .changed)" false "nothing more to do"
rm "$WORK/west/defs/site.json"
pair site tunnel esp '"aes256gcm16"' 0x1400 4 yes # back to one pair, with fresh keys
expect_rc 0 "apply west" xctl west apply
expect_rc 0 "apply east" xctl east apply
ping_ok west -I 10.1.0.1 10.2.0.1

log "default policy: block, with a bypass"
write_defs west host.json '{ "version": 1, "host": { "default_policy": "block" } }'
expect_rc 0 "apply west" xctl west apply
expect_contains "$OUT" "default policy in block fwd block out block" "the plan sets it"
expect_contains "$(ip -n west xfrm policy getdefault)" "out: block" "the kernel has it"
set +e
ip netns exec west ping -q -c 2 -W 1 192.0.2.2 > /dev/null 2>&1
rc=$?
set -e
expect_ne "$rc" 0 "traffic with no policy is blocked"
protected_ping esp west -I 10.1.0.1 10.2.0.1
write_defs west host.json '{ "version": 1, "host": { "default_policy": "block",
    "bypass": [ { "remote": "192.0.2.2/32", "traffic": { "protocol": "icmp" } } ] } }'
expect_rc 0 "apply the bypass" xctl west apply
expect_contains "$(ip -n west xfrm policy list dir out)" "src 0.0.0.0/0 dst 192.0.2.2/32" "an allow policy for it"
capture_start bypass
# With its source given, ping skips its UDP probe (a connect() to find a
# source address), which only an ICMP bypass would not let through.
ping_ok west -I 192.0.2.1 192.0.2.2
capture_stop bypass
expect_gt "$(capture_count bypass "$ECHO4")" 9 "the bypassed traffic goes in clear, as asked"
protected_ping esp west -I 10.1.0.1 10.2.0.1
expect_rc 0 "down --all leaves the host's settings" xctl west down --all
expect_contains "$(ip -n west xfrm policy list dir out)" "dst 192.0.2.2/32" "the bypass is still there"
rm "$WORK/west/defs/host.json" "$WORK/keys/site."*
pair site tunnel esp '"aes256gcm16"' 0x1450 4 yes # down --all used the keys: roll them
expect_rc 0 "apply without the host section" xctl west apply
expect_not_contains "$(ip -n west xfrm policy list dir out)" "dst 192.0.2.2/32" "the bypass is gone"
expect_not_contains "$(ip -n west xfrm policy getdefault)" "block" "the kernel's default is back"
ping_ok west 192.0.2.2

log "SAs deleted by hand: the traffic is dropped, not sent in clear"
expect_rc 0 "apply east" xctl east apply
ping_ok west -I 10.1.0.1 10.2.0.1
ip -n west xfrm state flush
dropped_ping west -I 10.1.0.1 10.2.0.1
expect_rc 3 "status: down" xctl west status
