#!/bin/bash
# The Ansible collection on a host whose kernel cannot carry the tunnels:
# this machine's (no ESP, no GCM), in a fresh network namespace (run with
# unshare -n), with Debian's ansible-playbook. With apply=false and
# no_probe=true, xfrm_tunnel and the mesh role write the definitions and
# keys and validate them on their own (an image, a build host); without
# no_probe the task is refused with a message that names this host's
# kernel, not the definition; a bad definition is still refused as one.
set -euo pipefail
: "${XFRMCTL:?}" "${XFRMCTL_REPO:?}"
fail() { echo "FAIL: $*"; exit 1; }
pass() { echo "PASS: $*"; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/home"

cat > "$work/inventory.ini" <<INI
[sites]
west ansible_connection=local ansible_python_interpreter=/usr/bin/python3 xfrm_mesh_address=192.0.2.1 xfrm_mesh_subnets='["10.1.0.0/24"]' xfrm_mesh_config_dir=$work/west/tunnels.d
east ansible_connection=local ansible_python_interpreter=/usr/bin/python3 xfrm_mesh_address=192.0.2.2 xfrm_mesh_subnets='["10.2.0.0/24"]' xfrm_mesh_config_dir=$work/east/tunnels.d
INI
cat > "$work/tunnel.yml" <<'YAML'
- hosts: west
  gather_facts: false
  tasks:
    - xfrmctl.ipsec.xfrm_tunnel:
        name: site
        config_dir: "{{ dir }}/tunnels.d"
        state_dir: "{{ dir }}/state"
        executable: "{{ xfrmctl }}"
        apply: false
        no_probe: "{{ no_probe | bool }}"
        definition:
          proposal: aes256gcm16
          local: {address: 192.0.2.1, subnets: [10.1.0.0/24]}
          remote: {address: "{{ remote }}", subnets: [10.2.0.0/24]}
          keying:
            method: manual
            outbound: {spi: "0x10000a01", key_file: out}
            inbound: {spi: "0x10000a02", key_file: in}
        # 36 bytes each (aes256gcm16's key and salt), one per direction
        keys: {out: "{{ '%072d' % 1 }}", in: "{{ '%072d' % 2 }}"}
    - xfrmctl.ipsec.xfrm_status:
        config_dir: "{{ dir }}/tunnels.d"
        state_dir: "{{ dir }}/state"
        executable: "{{ xfrmctl }}"
        no_probe: true
      register: status
    - ansible.builtin.assert:
        that: "status.states == {'site': 'down'}"
YAML
cat > "$work/mesh.yml" <<'YAML'
- hosts: sites
  gather_facts: false
  roles:
    - role: xfrmctl.ipsec.mesh
      vars:
        xfrm_mesh_group: sites
        xfrm_mesh_executable: "{{ xfrmctl }}"
        xfrm_mesh_secrets_dir: "{{ secrets }}"
        xfrm_mesh_state_dir: "{{ xfrm_mesh_config_dir | dirname }}/state"
        xfrm_mesh_apply: false
        xfrm_mesh_no_probe: true
YAML

play() { # NAME EXPECTED_RC PLAYBOOK EXTRA_VARS...
    local name=$1 want=$2 book=$3 rc
    shift 3
    local vars=(-e "xfrmctl=$XFRMCTL")
    for v in "$@"; do vars+=(-e "$v"); done
    set +e
    env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME="$work/home" LC_ALL=C.UTF-8 PYTHONDONTWRITEBYTECODE=1 \
        ANSIBLE_COLLECTIONS_PATH="$XFRMCTL_REPO/packaging/ansible" ANSIBLE_COLLECTIONS_SCAN_SYS_PATH=false \
        ANSIBLE_NOCOLOR=1 ANSIBLE_RETRY_FILES_ENABLED=false ANSIBLE_LOCAL_TEMP="$work/home/tmp" \
        /usr/bin/ansible-playbook -i "$work/inventory.ini" "${vars[@]}" "$work/$book" > "$work/$name.out" 2>&1
    rc=$?
    set -e
    [ "$rc" = "$want" ] || fail "playbook $name: exit $rc, expected $want: $(tail -30 "$work/$name.out")"
}
kernel_untouched() {
    [ -z "$(ip xfrm state list)$(ip xfrm policy list)" ] || fail "$1 wrote to the kernel: $(ip xfrm policy list)"
}
valid_alone() { # CONFIG_DIR
    "$XFRMCTL" -c "$1" --state-dir "$work/check-state" --no-probe validate > "$work/validate.out" 2>&1 ||
        fail "xfrmctl --no-probe validate $1: $(cat "$work/validate.out")"
}

# no_probe: written and validated, nothing sent to the kernel.
play image 0 tunnel.yml "dir=$work/image" remote=192.0.2.2 no_probe=true
[ -f "$work/image/tunnels.d/site.json" ] || fail "no definition written: $(cat "$work/image.out")"
for k in out in; do
    [ "$(stat -c %a "$work/image/keys/site/$k")" = 600 ] || fail "key file $k missing or not 0600"
done
valid_alone "$work/image/tunnels.d"
kernel_untouched "apply=false"
grep -q 'changed=1' "$work/image.out" || fail "not reported as changed: $(cat "$work/image.out")"
pass "no_probe, apply=false: definition and keys written, valid, the kernel untouched; status says down"

# Without no_probe: this kernel is named, not the definition; nothing written.
play host 2 tunnel.yml "dir=$work/host" remote=192.0.2.2 no_probe=false
grep -qF "this host's kernel cannot carry the definition, which is valid (nothing was changed)" "$work/host.out" ||
    fail "the refusal does not name the kernel: $(grep -F 'msg' "$work/host.out")"
grep -qF "this kernel does not have it" "$work/host.out" || fail "xfrmctl's reason missing: $(grep -F 'msg' "$work/host.out")"
if grep -qF "refused the definition" "$work/host.out"; then fail "the kernel's refusal is blamed on the definition"; fi
[ ! -e "$work/host/tunnels.d/site.json" ] || fail "a refused definition was written"
pass "without no_probe: $(grep -o "this host's kernel cannot carry[^\"]*" "$work/host.out" | head -1)"

# A bad definition is the definition's fault, no_probe or not.
play bad 2 tunnel.yml "dir=$work/bad" remote=192.0.2.300 no_probe=true
grep -qF "xfrmctl validate refused the definition (nothing was changed): $work/bad/tunnels.d/site.json: /tunnels/site/remote/address" \
    "$work/bad.out" || fail "a bad definition is not refused as one: $(grep -F 'msg' "$work/bad.out")"
pass "a bad definition with no_probe: refused as the definition's error"

# The mesh role: each host's files written and valid, the kernel untouched.
play mesh 0 mesh.yml "secrets=$work/secrets"
for pair in west:east east:west; do
    host=${pair%:*} peer=${pair#*:}
    [ -f "$work/$host/tunnels.d/mesh-$peer.json" ] || fail "mesh: $host has no tunnel to $peer: $(tail -30 "$work/mesh.out")"
    valid_alone "$work/$host/tunnels.d"
done
kernel_untouched "the mesh role with xfrm_mesh_apply=false"
pass "mesh role, no_probe, apply=false: both hosts' definitions written and valid, the kernel untouched"
