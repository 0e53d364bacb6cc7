#!/bin/bash
# xfrmctl against this machine's kernel (no ESP, no GCM), in a fresh network
# namespace (run with unshare -n): what the kernel lacks is found by probing
# before anything is written; with --no-probe the kernel's own refusal comes
# back as one clear message naming the definition, and nothing is left
# half-installed.
set -euo pipefail
: "${XFRMCTL:?}" "${XFRMCTL_REPO:?}"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
pass() { echo "PASS: $*"; }
cp -r "$XFRMCTL_REPO/policies/site-to-site" "$work/"
chmod 600 "$work"/site-to-site/keys/*
defs=$work/site-to-site/west.json
# west's own address is here, as on the real west (else validate, plan and
# apply warn that it is not).
ip link set lo up
ip addr add 192.0.2.1/32 dev lo

check_probe() { # COMMAND PATH MESSAGE
    set +e
    "$XFRMCTL" -c "$defs" --state-dir "$work/state" $1 > "$work/out" 2> "$work/err"
    local rc=$?
    set -e
    [ "$rc" = 1 ] || fail "$1: exit $rc, expected 1"
    [ "$(wc -l < "$work/err")" = 1 ] || fail "$1: expected one message, got: $(cat "$work/err")"
    grep -qF "$defs: $2: $3" "$work/err" || fail "$1: expected '$2: $3' in: $(cat "$work/err")"
    [ -z "$(ip xfrm state list)$(ip xfrm policy list)" ] || fail "$1 wrote to the kernel"
    pass "$1: $(cat "$work/err")"
}

check_refusal() { # REASON
    set +e
    "$XFRMCTL" -c "$defs" --state-dir "$work/state" --no-probe apply > "$work/out" 2> "$work/err"
    local rc=$?
    set -e
    [ "$rc" = 1 ] || fail "apply: exit $rc, expected 1"
    [ "$(wc -l < "$work/err")" = 1 ] || fail "expected one message, got: $(cat "$work/err")"
    grep -qF "$defs: /tunnels/west-east/keying/outbound: the kernel refused to add sa" "$work/err" ||
        fail "message does not name the definition: $(cat "$work/err")"
    grep -qF "(kernel: $1)" "$work/err" || fail "message lacks the kernel's reason '$1': $(cat "$work/err")"
    grep -qF "tunnel west-east was left as it was" "$work/err" || fail "message does not say the tunnel is unchanged"
    [ -z "$(ip xfrm state list)$(ip xfrm policy list)" ] || fail "entries left in the kernel: $(ip xfrm policy list)"
    pass "refused with '$1', nothing left: $(cat "$work/err")"
}

for command in validate plan apply; do
    check_probe $command /tunnels/west-east/proposal "aes256gcm16 needs the kernel's rfc4106(gcm(aes)); this kernel does not have it"
done
check_refusal "Requested AEAD algorithm not found" # aes256gcm16: this kernel has no GCM
sed -i 's/"aes256gcm16"/"aes256-sha256"/' "$defs"
for k in "$work"/site-to-site/keys/*; do openssl rand -hex 64 > "$k"; done
check_probe apply /tunnels/west-east/protocol "ESP over IPv4 needs the kernel's esp4; this kernel does not have it"
check_refusal "Requested type not found" # AES-CBC and HMAC exist, ESP does not

# The policies of a tunnel are installed before its refusal is seen, then
# undone: plan still shows all of them pending.
set +e
"$XFRMCTL" -c "$defs" --state-dir "$work/state" --no-probe plan > "$work/out"
rc=$?
set -e
[ "$rc" = 2 ] || fail "plan after the refusal: exit $rc, expected 2"
grep -q "Plan: 5 to add" "$work/out" || fail "plan: $(cat "$work/out")"
pass "plan still shows the whole tunnel pending"

# Probing needs a network namespace of its own: without CAP_SYS_ADMIN (as
# under xfrmd's systemd unit) it makes one in a user namespace, and finds
# the same.
"$XFRMCTL" capabilities --json > "$work/caps.root"
setpriv --bounding-set=-sys_admin --inh-caps=-sys_admin "$XFRMCTL" capabilities --json > "$work/caps.less" ||
    fail "capabilities without CAP_SYS_ADMIN: $(cat "$work/caps.less")"
cmp -s "$work/caps.root" "$work/caps.less" || fail "capabilities differ without CAP_SYS_ADMIN"
pass "capabilities are probed the same without CAP_SYS_ADMIN"

# Host settings go with the tunnels (xfrmctl(8), Host settings): when every
# tunnel fails, the SPD hash thresholds are given back and the default
# policy is not set, and the apply says changed: false. Bypass policies are
# a unit of their own: the thresholds they need stay, with them.
thresholds() { ip -s -s xfrm policy count | sed -n 's/.*SPD IPv4 thresholds: local \([0-9]*\) remote \([0-9]*\).*/\1\/\2/p'; }
default_in() { ip xfrm policy getdefault | awk '$1 == "in:" { print $2 }'; }
host_apply() { # EXPECTED_CHANGED EXPECTED_THRESHOLDS WHAT
    set +e
    "$XFRMCTL" -c "$work/host" --state-dir "$work/host-state" --no-probe --json apply > "$work/out" 2> "$work/err"
    local rc=$?
    set -e
    [ "$rc" = 1 ] || fail "$3: exit $rc, expected 1 (the tunnel fails): $(cat "$work/err")"
    [ "$(jq .changed "$work/out")" = "$1" ] || fail "$3: changed is $(jq .changed "$work/out"), expected $1: $(cat "$work/out")"
    [ "$(thresholds)" = "$2" ] || fail "$3: SPD IPv4 hash thresholds $(thresholds), expected $2"
    [ "$(default_in)" = accept ] || fail "$3: the default policy was set although every tunnel failed"
    if jq -e '.changes[] | select(.object == "host") | .entry | test("32/32 -> 24/24")' "$work/out" > /dev/null; then
        fail "$3: reports the thresholds the failed tunnel needed: $(cat "$work/out")"
    fi
    pass "$3: changed $1, thresholds $2, default policy accept"
}
[ "$(thresholds)" = 32/32 ] && [ "$(default_in)" = accept ] || fail "the namespace does not start at 32/32 and accept"
mkdir -p "$work/host"
cp "$defs" "$work/host/west.json"
cp -r "$work/site-to-site/keys" "$work/host/keys"
echo '{"version": 1, "host": {"default_policy": {"in": "block", "fwd": "block", "out": "accept"}}}' > "$work/host/host.json"
host_apply false 32/32 "every tunnel fails"
echo '{"version": 1, "host": {"default_policy": "block", "bypass": [{"local": "192.0.2.1/32", "remote": "10.9.0.0/16"}]}}' \
    > "$work/host/host.json"
host_apply true 32/16 "every tunnel fails, the bypass policies go in"
[ "$(ip xfrm policy list | grep -c '10.9.0.0/16')" = 3 ] || fail "the bypass policies are not in: $(ip xfrm policy list)"
pass "the bypass policies stay in (out, in, fwd)"

# A definition that loads but is most likely not meant: validate and plan
# warn (on stderr, and in --json), the exit status stays what it was.
sed -i 's|"subnets": \["10.1.0.0/24"\]|"subnets": ["10.1.0.0/24", "192.0.2.0/24"]|' "$defs"
warning="$defs: /tunnels/west-east/local/subnets/1: 192.0.2.0/24 holds the tunnel's own local address 192.0.2.1"
"$XFRMCTL" -c "$defs" --state-dir "$work/state" --no-probe validate > "$work/out" 2> "$work/err" ||
    fail "validate with a warning: $(cat "$work/err")"
grep -qF "xfrmctl: warning: $warning" "$work/err" || fail "validate: no warning in: $(cat "$work/err")"
"$XFRMCTL" -c "$defs" --state-dir "$work/state" --no-probe --json validate > "$work/out" 2> /dev/null
jq -e --arg w "$warning" '.valid and (.warnings | any(startswith($w)))' "$work/out" > /dev/null ||
    fail "validate --json: no warning in: $(cat "$work/out")"
set +e
"$XFRMCTL" -c "$defs" --state-dir "$work/state" --no-probe --json plan > "$work/out" 2> "$work/err"
rc=$?
set -e
[ "$rc" = 2 ] || fail "plan with a warning: exit $rc, expected 2"
jq -e --arg w "$warning" '.warnings | any(startswith($w))' "$work/out" > /dev/null ||
    fail "plan --json: no warning in: $(cat "$work/out")"
grep -qF "xfrmctl: warning: $warning" "$work/err" || fail "plan: no warning in: $(cat "$work/err")"
pass "a subnet holding the tunnel's own address: validate and plan warn, exit statuses unchanged"
