#!/bin/bash
# NIC offload against netdevsim, the kernel's simulated NIC: its debugfs
# lists the SAs it holds and counts the packets it sent with one. A tunnel
# with "offload" puts both SAs on the device, traffic through it raises the
# device's count, status and explain say so, a second apply writes nothing,
# down takes the SAs off the device. Refused, with the kernel left as it
# was: a device without esp-hw-offload (veth), packet mode (not in 6.1),
# and a proposal netdevsim cannot take (the kernel's own message; only that
# tunnel undone). Only west exists: netdevsim has no peer in 6.1, so the
# remote end is a permanent neighbour entry and nothing answers.
. "$XFRMCTL_REPO/tests/uml/lib.sh"

mountpoint -q /sys/kernel/debug || mount -t debugfs none /sys/kernel/debug
echo "1 1" > /sys/bus/netdevsim/new_device # netdevsim1, one port
ip netns add west
for _ in $(seq 50); do
    nsim=$(ls /sys/bus/netdevsim/devices/netdevsim1/net/ 2>/dev/null || true)
    [ -n "$nsim" ] && break
    nap 0.1
done
[ -n "$nsim" ] || fail "netdevsim1 has no network device"
IPSEC=/sys/kernel/debug/netdevsim/netdevsim1/ports/0/ipsec
[ -r "$IPSEC" ] || fail "no $IPSEC: netdevsim without IPsec offload"
pass "netdevsim device $nsim created, its ipsec file in debugfs"
ip link set "$nsim" netns west
ip -n west link set "$nsim" name nsim0
ip -n west link set lo up
ip -n west addr add 192.0.2.1/24 dev nsim0
ip -n west link set nsim0 up
ip -n west neigh add 192.0.2.2 lladdr 02:00:00:00:00:02 dev nsim0 nud permanent
ip -n west link add lan type dummy
ip -n west addr add 10.1.0.1/24 dev lan
ip -n west link set lan up
ip -n west route add 10.2.0.0/24 via 192.0.2.2 dev nsim0
ip -n west link add veth0 type veth peer name veth1 # a device without ESP offload
mkdir -p "$WORK/west"

# The device's view, without the key material netdevsim prints (the key,
# and the salt: the key file's last four bytes).
nsim_sas() { grep -v 'key=' "$IPSEC" | sed -E 's/salt=0x[0-9a-f]+/salt=-/'; }
nsim_tx() { sed -n 's/^SA count=[0-9]* tx=\([0-9]*\)$/\1/p' "$IPSEC"; }
nsim_count() { sed -n 's/^SA count=\([0-9]*\) .*/\1/p' "$IPSEC"; }
expect_eq "$(nsim_count)" 0 "netdevsim holds no SA before apply"

# offloaded NAME PROPOSAL KEY_BYTES LAN SPI_BASE: a tunnel offloaded to
# nsim0 between 10.1.LAN.0/24 and 10.2.LAN.0/24 in NAME.json, with fresh keys
# (SPIs BASE+1 out, BASE+2 in).
offloaded() {
    local name=$1 proposal=$2 bytes=$3 lan=$4 base=$5
    new_key "$WORK/keys/$name.out" "$bytes"
    new_key "$WORK/keys/$name.in" "$bytes"
    write_defs west "$name.json" "$(jq -n --arg k "$WORK/keys" --arg name "$name" --arg p "$proposal" \
        --arg lan "$lan" --arg out "$(printf '0x%x' $((base + 1)))" --arg in "$(printf '0x%x' $((base + 2)))" \
        '{version: 1, tunnels: {($name): {mode: "tunnel", proposal: $p, offload: {device: "nsim0"},
          local: {address: "192.0.2.1", subnets: ["10.1.\($lan).0/24"]},
          remote: {address: "192.0.2.2", subnets: ["10.2.\($lan).0/24"]},
          keying: {method: "manual", outbound: {spi: $out, key_file: "\($k)/\($name).out"},
                                     inbound: {spi: $in, key_file: "\($k)/\($name).in"}}}}}')"
}

log "a tunnel offloaded to nsim0 (crypto)"
offloaded off aes128gcm16 20 0 0x10000a00 # netdevsim takes AES-GCM with 128-bit keys (and ICVs) only
expect_rc 0 "validate" xctl west validate
expect_rc 2 "plan: changes pending" xctl west plan
expect_contains "$OUT" "offload crypto ifindex" "plan shows the SAs' offload"
expect_rc 0 "apply" xctl west apply
sas=$(nsim_sas)
echo "$sas"
expect_eq "$(nsim_count)" 2 "netdevsim holds both SAs"
expect_contains "$sas" "spi=0x10000a01 proto=0x32" "netdevsim holds the outbound SA (ESP)"
expect_contains "$sas" "spi=0x10000a02 proto=0x32" "netdevsim holds the inbound SA (ESP)"
expect_contains "$sas" "tx ipaddr=192.0.2.2" "the SA to 192.0.2.2 is the device's transmit SA"
expect_contains "$sas" "rx ipaddr=192.0.2.1" "the SA to 192.0.2.1 is the device's receive SA"
state=$(entries west)
expect_contains "$state" "dev nsim0 dir out" "ip xfrm: the outbound SA is offloaded to nsim0"
expect_contains "$state" "dev nsim0 dir in" "ip xfrm: the inbound SA is offloaded to nsim0"

log "traffic through the tunnel goes out through the device's offload"
tx_before=$(nsim_tx)
capture_start nsim west nsim0
in_ns west ping -q -c 3 -i 0.2 -W 1 -I 10.1.0.1 10.2.0.1 > /dev/null 2>&1 || true # nothing answers
capture_wait nsim esp 3
capture_stop nsim
expect_gt "$(( $(nsim_tx) - tx_before ))" 2 "netdevsim's ipsec tx count rose by the three pings"
expect_gt "$(capture_count nsim esp)" 2 "ESP leaves nsim0"
expect_contains "$(capture_text nsim)" "ESP(spi=0x10000a01" "with the outbound SPI"
expect_eq "$(capture_count nsim icmp)" 0 "no clear ICMP leaves nsim0"
expect_gt "$(sa_counter west 0x10000a01 packets)" 2 "the outbound SA counted the packets"

log "status and explain tell the offload"
set +e
text=$(xctl west status)
json=$(xctl west status --json)
set -e
echo "$text"
expect_contains "$text" "off: offload crypto to nsim0: 2 of 2 SAs on the device" "status: both SAs on the device"
expect_eq "$(json_get "$json" '.tunnels[0].offload | [.device, .mode, .sas_offloaded, .sas] | join(" ")')" "nsim0 crypto 2 2" \
    "status --json: offload asked for and done"
expect_eq "$(json_get "$json" '[.tunnels[0].sas[] | "\(.direction):\(.offload.device):\(.offload.direction)"] | sort | join(" ")')" \
    "in:nsim0:in out:nsim0:out" "status --json: each SA on nsim0 in its direction"
expect_rc 0 "explain" xctl west explain 10.1.0.1 10.2.0.1
expect_contains "$OUT" "offload: crypto on nsim0 (outbound)" "explain: the outbound SA is on nsim0"
explained=$(xctl west --json explain 10.1.0.1 10.2.0.1)
expect_eq "$(json_get "$explained" '.templates[0].offload | "\(.device) \(.mode) \(.direction)"')" "nsim0 crypto out" \
    "explain --json: the SA's offload"

log "a second apply writes nothing"
monitor_start west
expect_rc 0 "apply again" xctl west --json apply
monitor_stop west > "$WORK/monitor.out"
expect_eq "$(json_get "$OUT" .changed)" false "apply again: changed false"
expect_eq "$(wc -c < "$WORK/monitor.out")" 0 "no XFRM event: no kernel write"

log "refused, the kernel left as it was: a device without ESP offload"
before=$(entries west)
amend west off.json '.tunnels.off.offload.device = "veth0"'
expect_rc 1 "apply with veth0" xctl west apply
expect_contains "$OUT" "off.json: /tunnels/off/offload/device: veth0 does not offload ESP" "the refusal names file, path and why"
expect_eq "$(entries west)" "$before" "the kernel's SAs and policies are as they were"
expect_eq "$(nsim_count)" 2 "netdevsim still holds both SAs"

log "refused, the kernel left as it was: packet offload, which Linux 6.1 lacks"
amend west off.json '.tunnels.off.offload = {device: "nsim0", mode: "packet"}'
expect_rc 1 "apply with packet offload" xctl west apply
expect_contains "$OUT" "off.json: /tunnels/off/offload/mode: this kernel lacks packet offload" "the refusal says what the kernel lacks"
expect_eq "$(entries west)" "$before" "the kernel's SAs and policies are as they were"
amend west off.json '.tunnels.off.offload = {device: "nsim0"}'
expect_rc 0 "back to crypto offload: nothing to do" xctl west plan

log "a proposal netdevsim refuses: the kernel's message, that tunnel undone, the other untouched"
offloaded soft aes256-sha256 64 1 0x10000b00 # not AES-GCM: netdevsim refuses it
expect_rc 1 "apply with soft" xctl west apply
echo "$OUT"
expect_contains "$OUT" "soft" "the error names the tunnel"
expect_contains "$OUT" "Device failed to offload this state" "with the kernel's extended ACK"
expect_eq "$(entries west)" "$before" "soft undone, off untouched"
expect_eq "$(nsim_count)" 2 "netdevsim holds off's two SAs only"
rm "$WORK/west/defs/soft.json"

log "down takes the SAs off the device"
expect_rc 0 "down off" xctl west down off
expect_eq "$(nsim_count)" 0 "netdevsim holds no SA"
expect_not_contains "$(nsim_sas)" "spi=" "debugfs lists none"
expect_eq "$(ip -n west xfrm state list)" "" "no SA left in the kernel"

ip netns del west
echo 1 > /sys/bus/netdevsim/del_device
secrets_scan
