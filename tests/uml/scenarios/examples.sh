#!/bin/bash
# Every example of policies/ applied on its hosts in a real kernel, with the
# traffic it is for crossing as it should: none of them may rot.
. "$XFRMCTL_REPO/tests/uml/lib.sh"
examples=$XFRMCTL_REPO/policies

stage() { # EXAMPLE: a copy whose keys are 0600, as xfrmctl requires
    cp -r "$examples/$1" "$WORK/example"
    chmod 600 "$WORK"/example/keys/*
}
apply_on() { # HOST [DEFINITION]: apply the host's definition of the staged example
    expect_rc 0 "$1: apply ${2:-$1}.json" ip netns exec "$1" "$XFRMCTL" -c "$WORK/example/${2:-$1}.json" \
        --state-dir "$WORK/$1/state" apply
}
status_up() {
    expect_rc 0 "$1: status up" ip netns exec "$1" "$XFRMCTL" -c "$WORK/example/${2:-$1}.json" --state-dir "$WORK/$1/state" status
}

log "site-to-site"
two_hosts && stage site-to-site && apply_on west && apply_on east
protected_ping esp west -I 10.1.0.1 10.2.0.1
status_up west
teardown

log "host-to-host"
two_hosts && stage host-to-host && apply_on west && apply_on east
protected_ping esp west 192.0.2.2
teardown

log "ah-esp"
two_hosts && stage ah-esp && apply_on west && apply_on east
protected_ping ah west -I 10.1.0.1 10.2.0.1
expect_contains "$(capture_text protected)" "ESP(spi=0x30000b01" "ESP inside AH"
expect_eq "$(capture_has_pattern protected)" 0 "the payload never crosses in clear"
teardown

log "ipv6"
two_hosts && stage ipv6 && apply_on west && apply_on east
protected_ping esp west -6 -I 2001:db8:1::1 2001:db8:2::1
sa=$(ip -n west xfrm state list spi 0x40000a02)
expect_contains "$sa" "flag af-unspec esn" "ESN on the SA"
expect_contains "$sa" "replay_window 1024, bitmap-length 32" "with its 1024-packet window"
teardown

log "nat-traversal"
nat_hosts && stage nat-traversal && apply_on west && apply_on east
protected_ping esp-in-udp west -I 10.1.0.1 10.2.0.1
expect_eq "$(capture_count protected 'ip proto 50')" 0 "never bare ESP"
teardown

log "hub-and-spokes"
star_hosts && stage hub-and-spokes
apply_on hub && apply_on spoke-a && apply_on spoke-b
protected_ping esp spoke-a -I 10.2.0.1 10.1.0.1
protected_ping esp spoke-a -I 10.2.0.1 10.3.0.1 # spoke to spoke, through the hub
text=$(capture_text protected)
expect_contains "$text" "192.0.2.2 > 192.0.2.1: ESP" "spoke-a to the hub"
expect_contains "$text" "192.0.2.1 > 192.0.2.3: ESP" "the hub on to spoke-b"
status_up hub
teardown

log "bgp-transport"
two_hosts && stage bgp-transport && apply_on west && apply_on east
ip netns exec east nc -l -p 179 > "$WORK/bgp.received" 2>/dev/null &
listener=$!
nap 0.5
capture_start bgp
echo "OPEN XFMCTL-SECRET--!" | ip netns exec west nc -q 1 192.0.2.2 179
ip netns exec west ping -q -c 2 -i 0.2 192.0.2.2 > /dev/null
capture_stop bgp
wait $listener || true
expect_contains "$(cat "$WORK/bgp.received")" "OPEN" "the BGP peer got the message"
expect_gt "$(capture_count bgp esp)" 2 "the TCP session went in ESP"
expect_eq "$(capture_count bgp 'tcp port 179')" 0 "no clear TCP to port 179 on the wire"
expect_gt "$(capture_count bgp "$ECHO4")" 3 "ping, which the selector leaves out, went in clear"
expect_eq "$(capture_has_pattern bgp)" 0 "the BGP payload never crosses in clear"
teardown

log "ikev2 (xfrmd and charon on each host)"
two_hosts && stage ikev2
for host in west east; do
    mkdir -p "$WORK/$host/defs"
    sed "s|keys/site.psk|$WORK/example/keys/site.psk|" "$WORK/example/$host.json" > "$WORK/$host/defs/$host.json"
    xfrmd_start "$host"
done
ikev2_up() { xctl west status > /dev/null 2>&1 && xctl east status > /dev/null 2>&1; }
wait_for 30 ikev2_up || fail "the ikev2 example did not come up: $(xctl west status; xctl east status)"
protected_ping esp west -I 10.1.0.1 10.2.0.1
protected_ping esp east -I 10.2.0.1 10.1.0.1
expect_contains "$(xctl west status)" "IKE SA ESTABLISHED AES_GCM_16-256/PRF_HMAC_SHA2_384/CURVE_25519" "west's status shows the IKE SA"
teardown

log "the complete definitions in xfrmctl.json(5) are valid (key files made as its examples say)"
man_examples=$WORK/man
mkdir -p "$man_examples" && mkdir -m 700 "$man_examples/keys"
for name in west-east east-west branch-a.out branch-a.in; do new_key "$man_examples/keys/$name" 36; done
(umask 077 && printf '0x%s\n' "$(openssl rand -hex 32)" > "$man_examples/keys/east.psk") # as the page writes it
awk '/^\.Bd -literal/ { block = ""; inside = 1; next }
     /^\.Ed/ { if (inside && block ~ /^\{/) { n++; print block > (dir "/example" n ".json") } inside = 0; next }
     inside { block = block $0 "\n" }' dir="$man_examples" "$XFRMCTL_REPO/man/xfrmctl.json.5"
count=0
for example in "$man_examples"/example*.json; do
    rm -rf "$man_examples/tunnels.d" && mkdir "$man_examples/tunnels.d"
    sed 's#"keys/#"../keys/#' "$example" > "$man_examples/tunnels.d/example.json" # the first one's paths are relative to /etc/xfrmctl
    expect_rc 0 "xfrmctl.json(5): $(basename "$example") is valid" "$XFRMCTL" -c "$man_examples/tunnels.d" validate
    count=$((count + 1))
done
expect_gt "$count" 2 "xfrmctl.json(5) has complete examples"
