#!/bin/bash
# The host section. A run killed just after it set the kernel's default
# policy, before its last save of the state (strace sends SIGKILL at that
# save's opening of installed-keys.json.tmp, the second of the run; the
# first is the write-ahead): the default the host had before is still what
# comes back once the definitions drop their host section. Then down --all,
# which leaves the host section, and says so. Run in a fresh network
# namespace (unshare -n): the default policy is per namespace.
set -euo pipefail
: "${XFRMCTL:?}"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
pass() { echo "PASS: $*"; }
state=$work/state
defs=$work/host.json

defaults() { ip xfrm policy getdefault | tr -s ' \n' ' '; }
accept_all="Default policies: in: accept fwd: accept out: accept "
block_all="Default policies: in: block fwd: block out: block "

ip xfrm policy setdefault in accept fwd accept out accept
cat > "$defs" <<'JSON'
{ "version": 1, "host": { "default_policy": "block",
  "bypass": [ { "local": "0.0.0.0/0", "remote": "0.0.0.0/0",
                "traffic": { "protocol": "tcp", "local_port": 22 } } ] } }
JSON
set +e
strace -f -qq -o /dev/null -P "$state/installed-keys.json.tmp" -e trace=openat \
    -e inject=openat:signal=SIGKILL:when=2 "$XFRMCTL" -c "$defs" --state-dir "$state" apply > "$work/out" 2>&1
rc=$?
set -e
[ "$rc" = 137 ] || fail "apply was not killed at its last save: exit $rc: $(cat "$work/out")"
[ "$(defaults)" = "$block_all" ] || fail "killed before the kernel's default was set: $(defaults)"
jq -e '.saved_default_policy == {"in": 2, "fwd": 2, "out": 2}' "$state/owned.json" > /dev/null ||
    fail "the default to put back was not saved before the kernel's was set: $(jq -c .saved_default_policy "$state/owned.json")"
pass "killed after the kernel's default was set: the one before it was already saved"

"$XFRMCTL" -c "$defs" --state-dir "$state" apply > "$work/out" || fail "apply after the kill: $(cat "$work/out")"

# down --all takes tunnels down; the host section is not one, stays, and
# is said to stay (not "the kernel matches the definitions").
"$XFRMCTL" -c "$defs" --state-dir "$state" down --all > "$work/out" 2> "$work/err" || fail "down --all: $(cat "$work/err")"
grep -q "matches the definitions" "$work/out" && fail "down --all: $(cat "$work/out")"
grep -qF "the host section's bypass policies and default policy are not a tunnel and stay" "$work/err" ||
    fail "down --all does not say what it left: $(cat "$work/out" "$work/err")"
[ "$(defaults)" = "$block_all" ] || fail "down --all changed the default policy: $(defaults)"
pass "down --all: $(cat "$work/out") $(cat "$work/err")"
echo '{ "version": 1 }' > "$defs"
"$XFRMCTL" -c "$defs" --state-dir "$state" apply > "$work/out" || fail "apply without host: $(cat "$work/out")"
[ "$(defaults)" = "$accept_all" ] || fail "the host section removed, the default is not put back: $(defaults)"
pass "the host section removed: the default is accept again, as before the first apply"
