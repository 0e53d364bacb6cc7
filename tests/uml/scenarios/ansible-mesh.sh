#!/bin/bash
# The collection's role xfrmctl.ipsec.mesh on three hosts (hub, spoke-a,
# spoke-b) from one inventory: a full mesh, then hub and spokes. Keys and
# SPIs are generated once on the controller, each end gets its key files,
# every pair of subnets talks through ESP (in hub-and-spokes, spoke to spoke
# through the hub), a second run changes nothing, a change of topology
# removes the links it no longer calls for, --limit never removes a link to
# a host outside the limit, and absent removes everything. No key in any
# output, even with -vvv.
. "$XFRMCTL_REPO/tests/uml/lib.sh"
. "$XFRMCTL_REPO/tests/uml/ansible.sh"
star_hosts
ansible_setup hub spoke-a spoke-b
i=1
for host in hub spoke-a spoke-b; do
    mkdir -p "$WORK/host_vars"
    printf 'xfrm_mesh_address: 192.0.2.%s\nxfrm_mesh_subnets: [10.%s.0.0/24]\n' $i $i > "$WORK/host_vars/$host.yml"
    # Routes to the other sites' subnets, each straight to its owner: the
    # policies, not the routes, decide what is protected and through whom.
    for j in 1 2 3; do
        [ $j = $i ] || ip -n $host route add 10.$j.0.0/24 via 192.0.2.$j
    done
    i=$((i + 1))
done
SECRETS="$WORK/secrets"
cat > "$WORK/mesh.yml" <<'PLAY'
- hosts: all
  gather_facts: false
  vars:
    xfrm_mesh_secrets_dir: "{{ secrets }}"
    xfrm_mesh_config_dir: "{{ work }}/{{ inventory_hostname }}/defs"
    xfrm_mesh_state_dir: "{{ work }}/{{ inventory_hostname }}/state"
    xfrm_mesh_socket: "{{ work }}/{{ inventory_hostname }}/run/xfrmd.sock"
    xfrm_mesh_executable: "{{ xfrmctl }}"
  roles:
    - xfrmctl.ipsec.mesh
PLAY
run_play() { # NAME RC ARGS...
    local name=$1 rc=$2
    shift 2
    play "$name" "$rc" "$WORK/mesh.yml" -e "work=$WORK" -e "secrets=$SECRETS" -e "xfrmctl=$XFRMCTL" "$@"
}
tunnels_of() { (cd "$WORK/$1/defs" && ls) | tr '\n' ' '; }
# changed_hosts NAME: for hub, spoke-a and spoke-b, whether a task changed something
changed_hosts() {
    local host out=""
    for host in hub spoke-a spoke-b; do out+="$([ "$(recap "$1" "$host" changed)" -gt 0 ] && echo yes || echo no) "; done
    echo "${out% }"
}
no_keys_in() { # NAME: no generated key appears in that run's output
    local key
    for key in "$SECRETS"/*.key; do
        if grep -qF "$(cat "$key")" "$WORK/$1.out"; then fail "$1: the key of $(basename "$key") is in the output"; fi
    done
    pass "$1: none of the $(ls "$SECRETS"/*.key | wc -l) keys is in the output"
}
# both_ends FROM TO: FROM's outbound key file, TO's inbound one and the
# controller's copy hold one key; the SPIs agree too.
both_ends() {
    local from=$1 to=$2 key spi
    key=$(cat "$SECRETS/$from-to-$to.key")
    spi=0x1$(cat "$SECRETS/$from-to-$to.spi")
    expect_eq "$(cat "$WORK/$from/keys/mesh-$to/out")" "$key" "$from -> $to: $from's outbound key file holds the link's key"
    expect_eq "$(cat "$WORK/$to/keys/mesh-$from/in")" "$key" "$from -> $to: $to's inbound key file holds the same key"
    expect_eq "$(jq -r ".tunnels[\"mesh-$to\"].keying.outbound.spi" "$WORK/$from/defs/mesh-$to.json")" "$spi" "$from -> $to: $from sends with the link's SPI"
    expect_eq "$(jq -r ".tunnels[\"mesh-$from\"].keying.inbound.spi" "$WORK/$to/defs/mesh-$from.json")" "$spi" "$from -> $to: $to expects it"
}

log "a topology the role does not know: the play fails with the role's message, nothing written"
run_play ring 2 -e xfrm_mesh_topology=ring
expect_contains "$OUT" "value of xfrm_mesh_topology must be one of: mesh, hub_and_spokes, got: ring" "the role says what is wrong"
expect_eq "$(ls "$WORK/hub")" "" "ring: nothing written on the hub"
[ ! -e "$SECRETS" ] && pass "ring: no key generated" || fail "ring: $SECRETS exists"

log "full mesh (-vvv --diff): three links, six directions, each with its own key and SPI"
run_play mesh 0 -vvv --diff
expect_eq "$(changed_hosts mesh)" "yes yes yes" "mesh: every host changed"
expect_eq "$(tunnels_of hub)" "mesh-spoke-a.json mesh-spoke-b.json " "mesh: the hub's tunnels"
expect_eq "$(tunnels_of spoke-a)" "mesh-hub.json mesh-spoke-b.json " "mesh: spoke-a's tunnels"
expect_eq "$(ls "$SECRETS" | grep -c '\.key$')" 6 "mesh: six keys on the controller"
expect_eq "$(ls "$SECRETS" | grep -c '\.spi$')" 6 "mesh: six SPIs on the controller"
expect_eq "$(stat -c %a "$SECRETS")" 700 "the secrets directory is 0700"
expect_eq "$(stat -c %a "$SECRETS"/*.key | sort -u)" 600 "every key file on the controller is 0600"
expect_eq "$(cat "$SECRETS"/*.key | sort -u | wc -l)" 6 "six different keys"
expect_eq "$(cat "$SECRETS"/*.key | grep -cvx '[0-9a-f]\{72\}' || true)" 0 "each key is 36 bytes of lowercase hex"
secrets_keep "$SECRETS"/*.key # for the scans at the end, once the role has deleted them
both_ends hub spoke-a
both_ends spoke-a hub
both_ends spoke-b spoke-a
no_keys_in mesh
protected_ping esp spoke-a -I 10.2.0.1 10.3.0.1
expect_eq "$(capture_count protected 'esp and host 192.0.2.1')" 0 "mesh: spoke to spoke goes straight, not through the hub"
protected_ping esp spoke-a -I 10.2.0.1 10.1.0.1
protected_ping esp spoke-b -I 10.3.0.1 10.1.0.1

log "second run: nothing changes, not even in the kernels"
entries_before=$(entries hub; entries spoke-a; entries spoke-b)
run_play again 0
expect_eq "$(changed_hosts again)" "no no no" "again: no host changed"
expect_eq "$(entries hub; entries spoke-a; entries spoke-b)" "$entries_before" "again: the kernels are as they were"

old_spokes_key=$(cat "$SECRETS/spoke-a-to-spoke-b.key")

log "hub and spokes: the spokes' direct link goes, spoke to spoke runs through the hub"
run_play star 0 -e xfrm_mesh_topology=hub_and_spokes -e xfrm_mesh_hub=hub --diff
expect_eq "$(changed_hosts star)" "yes yes yes" "star: every host changed"
expect_eq "$(tunnels_of spoke-a)" "mesh-hub.json " "star: spoke-a keeps its link to the hub only"
expect_eq "$(tunnels_of spoke-b)" "mesh-hub.json " "star: spoke-b too"
[ ! -e "$WORK/spoke-a/keys/mesh-spoke-b" ] && pass "star: spoke-a's keys of the old link are gone" || fail "star: $WORK/spoke-a/keys/mesh-spoke-b remains"
expect_eq "$(ip -n spoke-a xfrm state list | grep -c "192.0.2.3" || true)" 0 "star: no SA between the spokes is left"
expect_eq "$(jq -c '.tunnels["mesh-hub"].remote.subnets' "$WORK/spoke-a/defs/mesh-hub.json")" '["10.1.0.0/24","10.3.0.0/24"]' \
    "star: spoke-a's link to the hub carries the hub's and spoke-b's subnets"
secrets_keep "$SECRETS"/*.key
no_keys_in star
protected_ping esp spoke-a -I 10.2.0.1 10.3.0.1
expect_eq "$(capture_count protected 'esp and host 192.0.2.2 and host 192.0.2.3')" 0 "star: nothing goes straight between the spokes"
expect_gt "$(capture_count protected 'esp and src 192.0.2.1 and dst 192.0.2.3')" 4 "star: the hub sends spoke-a's pings on to spoke-b, as ESP"
protected_ping esp spoke-b -I 10.3.0.1 10.1.0.1

expect_eq "$(ls "$SECRETS" | grep -c 'spoke-a-to-spoke-b\|spoke-b-to-spoke-a' || true)" 0 \
    "star: the spokes' link's keys and SPIs are gone from the controller (never to be installed again)"

log "--limit spoke-a in a full mesh: spoke-a gets its link to spoke-b back, the others are untouched"
hub_before=$(entries hub)
run_play limited 0 --limit spoke-a
expect_eq "$(recap limited spoke-a changed)" 1 "limited: spoke-a changed"
expect_eq "$(tunnels_of spoke-a)" "mesh-hub.json mesh-spoke-b.json " "limited: spoke-a has both links"
expect_ne "$(cat "$SECRETS/spoke-a-to-spoke-b.key")" "$old_spokes_key" "limited: the link to spoke-b came back with a new key"
expect_eq "$(entries hub)" "$hub_before" "limited: the hub's kernel untouched"
expect_eq "$(tunnels_of spoke-b)" "mesh-hub.json " "limited: spoke-b untouched"

log "spoke-b leaves (xfrm_mesh_state absent in its host variables): its links go on every host"
echo 'xfrm_mesh_state: absent' >> "$WORK/host_vars/spoke-b.yml"
run_play leave 0
expect_eq "$(changed_hosts leave)" "yes yes yes" "leave: every host changed"
expect_eq "$(tunnels_of spoke-b)" "" "leave: spoke-b holds no tunnel"
expect_eq "$(tables spoke-b)" "" "leave: spoke-b's kernel holds no SA and no policy"
expect_eq "$(tunnels_of hub)" "mesh-spoke-a.json " "leave: the hub keeps its link to spoke-a only"
expect_eq "$(tunnels_of spoke-a)" "mesh-hub.json " "leave: spoke-a keeps its link to the hub only"
expect_eq "$(ls "$SECRETS" | grep -c 'spoke-b' || true)" 0 "leave: no key or SPI of spoke-b's links is left on the controller"
protected_ping esp spoke-a -I 10.2.0.1 10.1.0.1

log "absent: every tunnel of the mesh goes, on every host"
run_play absent 0 -e xfrm_mesh_state=absent
expect_eq "$(changed_hosts absent)" "yes yes no" "absent: hub and spoke-a changed (spoke-b had left already)"
for host in hub spoke-a spoke-b; do
    expect_eq "$(tables $host)" "" "absent: $host's kernel holds no SA and no policy"
    expect_eq "$(tunnels_of $host)" "" "absent: no definition left on $host"
done
teardown
