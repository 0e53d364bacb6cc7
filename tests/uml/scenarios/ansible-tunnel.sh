#!/bin/bash
# The Ansible collection (packaging/ansible, xfrmctl.ipsec) on two hosts:
# a play with xfrm_tunnel and xfrm_status, run as an operator would run it.
# --check --diff changes nothing and shows no key; the first run brings up a
# tunnel that carries ESP; the second changes nothing (not even the kernel);
# a weak proposal fails with the validator's message and changes nothing;
# state absent takes the tunnel's entries away. Key material never appears
# in any output, even with -vvv.
. "$XFRMCTL_REPO/tests/uml/lib.sh"
. "$XFRMCTL_REPO/tests/uml/ansible.sh"
two_hosts
ansible_setup west east

W2E=$(openssl rand -hex 36)
E2W=$(openssl rand -hex 36)
cat > "$WORK/keys.yml" <<EOF
tunnel_keys:
  w2e: "$W2E"
  e2w: "$E2W"
EOF
cat > "$WORK/site.yml" <<'EOF'
- hosts: all
  gather_facts: false
  vars_files: [keys.yml]
  vars:
    tunnel_state: present
    proposal: aes256gcm16
    sites:
      west: {address: 192.0.2.1, subnet: 10.1.0.0/24}
      east: {address: 192.0.2.2, subnet: 10.2.0.0/24}
    peer_name: "{{ 'east' if inventory_hostname == 'west' else 'west' }}"
    me: "{{ sites[inventory_hostname] }}"
    peer: "{{ sites[peer_name] }}"
    dir_out: "{{ 'w2e' if inventory_hostname == 'west' else 'e2w' }}"
    dir_in: "{{ 'e2w' if inventory_hostname == 'west' else 'w2e' }}"
    spis: {w2e: "0x10000a01", e2w: "0x10000a02"}
  tasks:
    - name: The site tunnel
      xfrmctl.ipsec.xfrm_tunnel:
        name: site
        state: "{{ tunnel_state }}"
        definition:
          mode: tunnel
          protocol: esp
          proposal: "{{ proposal }}"
          local: {address: "{{ me.address }}", subnets: ["{{ me.subnet }}"]}
          remote: {address: "{{ peer.address }}", subnets: ["{{ peer.subnet }}"]}
          keying:
            method: manual
            outbound: {spi: "{{ spis[dir_out] }}", key_file: out}
            inbound: {spi: "{{ spis[dir_in] }}", key_file: in}
        keys:
          out: "{{ tunnel_keys[dir_out] }}"
          in: "{{ tunnel_keys[dir_in] }}"
        config_dir: "{{ work }}/{{ inventory_hostname }}/defs"
        state_dir: "{{ work }}/{{ inventory_hostname }}/state"
        socket: "{{ work }}/{{ inventory_hostname }}/run/xfrmd.sock"
        executable: "{{ xfrmctl }}"

    - name: Tunnel states
      xfrmctl.ipsec.xfrm_status:
        config_dir: "{{ work }}/{{ inventory_hostname }}/defs"
        state_dir: "{{ work }}/{{ inventory_hostname }}/state"
        socket: "{{ work }}/{{ inventory_hostname }}/run/xfrmd.sock"
        executable: "{{ xfrmctl }}"
      register: ipsec
      when: tunnel_state == 'present' and not ansible_check_mode

    - name: The tunnel is up, through the module and its fact
      ansible.builtin.assert:
        that:
          - ipsec.all_up
          - ipsec.states.site == 'up'
          - xfrmctl_tunnels.site.sas | selectattr('present') | list | length == 2
          - ipsec.tunnels.site.remote == peer.address
      when: tunnel_state == 'present' and not ansible_check_mode
EOF
run_play() { # NAME RC ARGS...: the play with this run's paths
    local name=$1 rc=$2
    shift 2
    play "$name" "$rc" "$WORK/site.yml" -e "work=$WORK" -e "xfrmctl=$XFRMCTL" "$@"
}
no_keys_in() { # NAME: neither key appears in that run's output
    expect_not_contains "$(cat "$WORK/$1.out")" "$W2E" "$1: the west-to-east key is not in the output"
    expect_not_contains "$(cat "$WORK/$1.out")" "$E2W" "$1: the east-to-west key is not in the output"
}
files() { find "$WORK/west" "$WORK/east" | sort; }

log "check mode with diff (-vvv): a change is announced, nothing is written"
files_before=$(files)
run_play check 0 --check --diff -vvv
expect_eq "$(recap check west changed)" 1 "check: west would change"
expect_eq "$(recap check east changed)" 1 "check: east would change"
expect_eq "$(files)" "$files_before" "check: no file written on either host"
expect_eq "$(tables west)$(tables east)" "" "check: both kernels untouched"
expect_contains "$OUT" "\"proposal\": \"aes256gcm16\"" "check --diff shows the definition"
expect_contains "$OUT" "\"key_file\": \"$WORK/west/keys/site/out\"" "check --diff shows key files as paths"
expect_contains "$OUT" "$WORK/west/keys/site/out (new)" "check --diff lists the new key file"
no_keys_in check
expect_eq "$(ls /run/tmp | grep -c '^xfrm_tunnel\.' || true)" 0 "check: no staging directory left behind"

log "first run (--diff -vvv): both ends installed, the tunnel carries ESP"
run_play first 0 --diff -vvv
expect_eq "$(recap first west changed)" 1 "first run: west changed"
expect_eq "$(recap first east changed)" 1 "first run: east changed"
expect_eq "$(recap first west failed)" 0 "first run: west's status is up (assert)"
no_keys_in first
expect_eq "$(stat -c %a "$WORK/west/keys/site/out")" 600 "key file mode 0600"
expect_eq "$(stat -c %a "$WORK/west/keys/site")" 700 "keys directory mode 0700"
expect_eq "$(cat "$WORK/west/keys/site/out")" "$W2E" "west's outbound key file holds the west-to-east key"
expect_eq "$(cat "$WORK/east/keys/site/in")" "$W2E" "east's inbound key file holds the same key"
expect_eq "$(jq -r '.tunnels.site.keying.outbound.key_file' "$WORK/west/defs/site.json")" "$WORK/west/keys/site/out" \
    "the definition names the key file"
expect_eq "$(jq -r '.version' "$WORK/west/defs/site.json")" 1 "the definition file has version 1"
protected_ping esp west -I 10.1.0.1 10.2.0.1
counters_rise west 0x10000a01 0x10000a02

log "second run: nothing changes, not even in the kernel"
west_entries=$(entries west)
monitor_start west
run_play second 0
events=$(monitor_stop west)
expect_eq "$(recap second west changed)" 0 "second run: west not changed"
expect_eq "$(recap second east changed)" 0 "second run: east not changed"
expect_eq "$events" "" "second run: no kernel write on west"

log "a weak proposal: the task fails with the validator's message, nothing changes"
def_before=$(sha256sum "$WORK/west/defs/site.json")
run_play weak 2 -e proposal=des --limit west -vvv
expect_contains "$OUT" "is refused as weak" "the validator's message is the task's"
expect_contains "$OUT" "/tunnels/site/proposal" "the message names the JSON path"
expect_contains "$OUT" "$WORK/west/defs/site.json" "the message names the definition file, not a staging copy"
expect_eq "$(recap weak west failed)" 1 "weak: the task failed"
no_keys_in weak
expect_eq "$(sha256sum "$WORK/west/defs/site.json")" "$def_before" "weak: the definition file is unchanged"
expect_eq "$(entries west)" "$west_entries" "weak: west's kernel tables are unchanged"
ping_ok west -I 10.1.0.1 10.2.0.1

log "check mode after a drift (a policy deleted by hand): announced, not put back"
ip -n west xfrm policy delete dir out src 10.1.0.0/24 dst 10.2.0.0/24
west_entries=$(entries west)
run_play drift 0 --check --limit west
expect_eq "$(recap drift west changed)" 1 "drift: check mode reports the pending change"
expect_eq "$(entries west)" "$west_entries" "drift: check mode put nothing back"

log "state absent on west: definition, keys and kernel entries go"
east_entries=$(entries east)
run_play absent 0 -e tunnel_state=absent --limit west --diff
expect_eq "$(recap absent west changed)" 1 "absent: west changed"
no_keys_in absent
expect_eq "$(ip -n west xfrm state list)" "" "absent: no SA left on west"
expect_eq "$(ip -n west xfrm policy list)" "" "absent: no policy left on west"
expect_eq "$(ls "$WORK/west/defs")" "" "absent: the definition file is gone"
[ ! -e "$WORK/west/keys/site" ] && pass "absent: the key files are gone" || fail "absent: $WORK/west/keys/site remains"
expect_eq "$(entries east)" "$east_entries" "absent: east untouched"
teardown
