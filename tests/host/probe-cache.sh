#!/bin/bash
# The capability probe's answer kept for the boot (run with unshare -n): a
# second command answers from the cache without probing (seen as the probe
# child's own unshare(CLONE_NEWNET), under strace); a cache with the wrong
# owner, mode or type is ignored with one warning and probed afresh; a
# damaged one or one under another key is probed afresh; `capabilities`
# always asks the kernel. The host kernel has no ESP, so every answer here
# is a refusal, and it must be the same refusal from the cache.
set -euo pipefail
: "${XFRMCTL:?}" "${XFRMCTL_REPO:?}"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
pass() { echo "PASS: $*"; }
cp -r "$XFRMCTL_REPO/policies/site-to-site" "$work/"
chmod 600 "$work"/site-to-site/keys/*
defs=$work/site-to-site/west.json
run=$work/run
cache=$run/capabilities.json
ip link set lo up
ip addr add 192.0.2.1/32 dev lo
refusal="$defs: /tunnels/west-east/proposal: aes256gcm16 needs the kernel's rfc4106(gcm(aes))"

# xfrmctl ARGS...: runs it under strace; $probes is how many network
# namespaces the probe made, $err its stderr. LeakSanitizer cannot work
# under ptrace (it stops the program's threads with ptrace itself), so an
# AddressSanitizer build runs here without it; every other test has it.
xctl() {
    set +e
    ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" strace -f -qq -e trace=unshare -o "$work/trace" \
        "$XFRMCTL" --state-dir "$work/state" --socket "$run/xfrmd.sock" "$@" > "$work/out" 2> "$work/err"
    rc=$?
    set -e
    probes=$(grep -c 'CLONE_NEWNET' "$work/trace" || true)
    err=$(cat "$work/err")
}
expect_probed() { # WHAT
    [ "$probes" -ge 1 ] || fail "$1: expected a probe, none made"
}
expect_cached() { # WHAT
    [ "$probes" = 0 ] || fail "$1: probed ($probes namespaces), expected the cached answer"
}
expect_refusal() { # WHAT (exactly the kernel's refusal, nothing else)
    [ "$rc" = 1 ] || fail "$1: exit $rc, expected 1"
    [ "$(wc -l < "$work/err")" = 1 ] || fail "$1: expected one message, got: $err"
    grep -qF "$refusal" "$work/err" || fail "$1: expected the refusal, got: $err"
}
expect_warning() { # WHAT WHY
    [ "$(grep -c 'warning: ignoring the capability cache' "$work/err")" = 1 ] || fail "$1: expected one warning, got: $err"
    grep -qF "$2" "$work/err" || fail "$1: expected '$2' in: $err"
    grep -qF "$refusal" "$work/err" || fail "$1: expected the refusal too, got: $err"
}
expect_rewritten() { # WHAT
    [ "$(stat -c '%u %a %F' "$cache")" = "0 600 regular file" ] || fail "$1: cache left as $(stat -c '%u %a %F' "$cache")"
}

# Commands that must write nothing only read the cache: validate, plan,
# status and every check (a check touches nothing). apply keeps it.
for cmd in validate plan "apply --check"; do
    xctl -c "$defs" $cmd
    expect_refusal "$cmd"; expect_probed "$cmd"
    [ ! -e "$cache" ] || fail "$cmd wrote the cache"
done
pass "validate, plan and apply --check probe and write nothing"
xctl -c "$defs" apply
expect_refusal "apply"; expect_probed "apply"; expect_rewritten "apply"
[ "$(stat -c '%a' "$run")" = 700 ] || fail "the runtime directory is $(stat -c '%a' "$run"), expected 700"
pass "apply probes and keeps the answer in $cache (0600, in a 0700 directory), though it then refuses"
inode=$(stat -c %i "$cache")
xctl -c "$defs" validate
expect_refusal "second validate"; expect_cached "second validate"
[ "$(stat -c %i "$cache")" = "$inode" ] || fail "a cached answer rewrote the cache"
pass "the second answers from the cache, with the same refusal, and no probe"
xctl -c "$defs" plan
expect_refusal "plan"; expect_cached "plan"
pass "so does plan"

jq '.tunnels["west-east"].esn = true' "$defs" > "$work/site-to-site/esn.json"
xctl -c "$work/site-to-site/esn.json" apply
expect_probed "a transform the cache has not seen (ESN)"
xctl -c "$defs" validate
expect_refusal "the first transform again"; expect_cached "the first transform again"
pass "a transform not in the cache is probed, and what the cache knew is kept"

xctl capabilities --json
[ "$rc" = 0 ] || fail "capabilities: exit $rc: $err"
expect_probed "capabilities"
[ "$(jq '[.transforms[] | select(.proposal == "aes256gcm16" and .supported)] | length' "$work/out")" = 0 ] ||
    fail "capabilities claims ESP on a kernel without it"
xctl -c "$defs" validate
expect_cached "validate after capabilities"
pass "capabilities always asks the kernel, and refreshes the cache"

jq '.modules = "0000"' "$cache" > "$work/other-key" && cat "$work/other-key" > "$cache"
xctl -c "$defs" validate
expect_refusal "a cache of another module set"; expect_probed "a cache of another module set"
head -c 100 "$cache" > "$work/half" && cat "$work/half" > "$cache"
xctl -c "$defs" apply
expect_refusal "a damaged cache"; expect_probed "a damaged cache"
xctl -c "$defs" validate
expect_cached "the cache after a damaged one"
pass "a cache under another key or damaged is probed afresh, without a word, and replaced"

# A forged cache: the kernel can do everything. Refused for its mode, its
# owner, or as a symbolic link; the kernel's own answer stands.
jq '.transforms[].error = 0 | .transforms[].reason = ""' "$cache" > "$work/forged"
cat "$work/forged" > "$cache" && chmod 644 "$cache"
xctl -c "$defs" apply
expect_warning "a cache readable by others" "permissions 0644"; expect_probed "a cache readable by others"
expect_rewritten "a cache readable by others"
xctl -c "$defs" validate
expect_refusal "after the open cache was replaced"; expect_cached "after the open cache was replaced"
cat "$work/forged" > "$cache" && chown 65534 "$cache"
xctl -c "$defs" apply
expect_warning "a cache of another user" "owned by uid 65534"; expect_probed "a cache of another user"
expect_rewritten "a cache of another user"
cp "$work/forged" "$work/forged-file" && rm "$cache" && ln -s "$work/forged-file" "$cache"
xctl -c "$defs" apply
expect_warning "a symbolic link" "a symbolic link"; expect_probed "a symbolic link"
expect_rewritten "a symbolic link"
cp "$work/forged" "$cache" && chmod 777 "$run"
xctl -c "$defs" validate
expect_warning "a runtime directory writable by others" "writable by group or others"
chmod 700 "$run"
pass "a forged cache (wrong mode, owner, a link, an open directory) is ignored with one warning; the kernel's answer stands"
