#!/bin/bash
# Definitions nested 50,000 levels deep (300 KB) under a tunnel, under
# "defaults" or under "host" once crashed validate, plan and apply (exit
# 139) and xfrmd on SIGHUP, reload or an apply through it: a crash loop
# under Restart=on-failure. Now each is one message at the depth bound
# (exit 1), and xfrmd keeps running with its last good definitions. Run in
# a fresh network namespace (unshare -n); this kernel has no ESP, so
# xfrmd runs with --no-probe and its tunnel stays down, which is enough to
# see which definitions it keeps. A control request nested 32,000 levels
# deep (just under the socket's 64 KiB request limit) is refused by the
# same reader, and xfrmd answers the next one.
set -euo pipefail
: "${XFRMCTL:?}" "${XFRMD:?}" "${XFRMCTL_REPO:?}"
work=$(mktemp -d)
xfrmd_pid=
trap '[ -z "$xfrmd_pid" ] || kill "$xfrmd_pid" 2>/dev/null; rm -rf "$work"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
pass() { echo "PASS: $*"; }
cp -r "$XFRMCTL_REPO/policies/site-to-site" "$work/"
chmod 600 "$work"/site-to-site/keys/*
live=$work/site-to-site/live.json # what xfrmd reads; the keys are beside it
cp "$work/site-to-site/west.json" "$live"
xctl() { "$XFRMCTL" -c "$live" --state-dir "$work/state" --socket "$work/xfrmd.sock" "$@"; }

levels=50000
open=$(printf '{"a":%.0s' $(seq $levels))
close=$(printf '}%.0s' $(seq $levels))
deep=$open'1'$close
keys=$(printf '/a%.0s' $(seq 29)) # the 33rd object is refused
declare -A documents paths
documents[tunnel]='{"version": 1, "tunnels": {"t": {"mode": '$deep'}}}'
paths[tunnel]=/tunnels/t/mode$keys
documents[defaults]='{"version": 1, "defaults": {"mode": '$deep'}, "tunnels": {}}'
paths[defaults]=/defaults/mode/a$keys
documents[host]='{"version": 1, "tunnels": {}, "host": {"bypass": '$deep'}}'
paths[host]=/host/bypass/a$keys
reason="nested more than 32 levels deep"

refused() { # WHAT COMMAND...: exit 1, one line naming the file, the path and the reason
    local what=$1 rc
    shift
    set +e
    "$@" > "$work/out" 2> "$work/err"
    rc=$?
    set -e
    [ "$rc" = 1 ] || fail "$what: exit $rc, expected 1: $(head -c 300 "$work/err")"
    [ "$(wc -l < "$work/err")" = 1 ] || fail "$what: expected one line, got: $(head -c 300 "$work/err")"
    grep -qF "$live: $path: $reason" "$work/err" || fail "$what: no '$path: $reason' in: $(head -c 300 "$work/err")"
}

for place in tunnel defaults host; do
    printf '%s' "${documents[$place]}" > "$live"
    path=${paths[$place]}
    for command in validate plan apply; do
        refused "$command, nested under $place" xctl $command
    done
    pass "validate, plan and apply, 50,000 levels under $place ($(stat -c %s "$live") bytes): $(cut -c1-60 "$work/err")..."
done

cp "$work/site-to-site/west.json" "$live"
"$XFRMD" -c "$live" --state-dir "$work/state" --socket "$work/xfrmd.sock" --no-probe > "$work/xfrmd.log" 2>&1 &
xfrmd_pid=$!
for _ in $(seq 100); do
    [ -S "$work/xfrmd.sock" ] && { xctl status > /dev/null 2>&1 || [ $? = 3 ]; } && break
    kill -0 "$xfrmd_pid" 2>/dev/null || fail "xfrmd did not start: $(cat "$work/xfrmd.log")"
    sleep 0.1
done
xctl --json status > "$work/status" || true
grep -q '"west-east"' "$work/status" || fail "xfrmd does not show west-east: $(cat "$work/status")"
pass "xfrmd runs with west-east (down: this kernel has no ESP)"
# plan through xfrmd warns as xfrmctl's own does (192.0.2.1 is not here)
xctl --json plan > "$work/plan" 2> /dev/null || true
jq -e --arg w "$live: /tunnels/west-east/local/address: 192.0.2.1 is not an address of this host" \
    '.warnings | any(startswith($w))' "$work/plan" > /dev/null || fail "plan through xfrmd: no warning: $(cat "$work/plan")"
pass "plan through xfrmd warns that the local address is not here"

alive() { # WHAT
    kill -0 "$xfrmd_pid" 2>/dev/null || fail "xfrmd died after $1: $(tail -3 "$work/xfrmd.log")"
    xctl --json status > "$work/status" || true
    grep -q '"west-east"' "$work/status" || fail "after $1 xfrmd no longer has west-east: $(cat "$work/status")"
}

for place in tunnel defaults host; do
    printf '%s' "${documents[$place]}" > "$live"
    path=${paths[$place]}
    before=$(grep -c "definitions not loaded (SIGHUP)" "$work/xfrmd.log" || true)
    kill -HUP "$xfrmd_pid"
    for _ in $(seq 100); do
        [ "$(grep -c "definitions not loaded (SIGHUP)" "$work/xfrmd.log" || true)" -gt "$before" ] && break
        kill -0 "$xfrmd_pid" 2>/dev/null || break
        sleep 0.1
    done
    alive "SIGHUP with 50,000 levels under $place"
    grep "definitions not loaded (SIGHUP)" "$work/xfrmd.log" | tail -1 | grep -qF "$path: $reason" ||
        fail "SIGHUP, $place: the log does not say why: $(tail -1 "$work/xfrmd.log" | cut -c1-300)"
    refused "reload through xfrmd, $place" xctl reload
    grep -qF "xfrmd keeps its last good definitions" "$work/err" || fail "reload, $place: $(cat "$work/err")"
    alive "xfrmctl reload with 50,000 levels under $place"
    refused "apply through xfrmd, $place" xctl apply
    alive "xfrmctl apply with 50,000 levels under $place"
    pass "xfrmd: SIGHUP, reload and apply with 50,000 levels under $place refused, west-east kept"
done

# The control socket's own request, written as a client other than xfrmctl
# could: refused at the bound, and the daemon answers the next request.
request='{"command": "status", "x": '$(printf '[%.0s' $(seq 32000))$(printf ']%.0s' $(seq 32000))'}'
printf '%s\n' "$request" | timeout 10 nc -U -N "$work/xfrmd.sock" > "$work/answer" ||
    fail "no answer to a request 32,000 levels deep: $(tail -3 "$work/xfrmd.log")"
jq -e '.exit == 1 and (.err | test("a malformed request: /x(/0)+: nested more than 32 levels deep"))' \
    "$work/answer" > /dev/null || fail "a request 32,000 levels deep was not refused: $(head -c 300 "$work/answer")"
alive "a control request 32,000 levels deep"
pass "xfrmd refuses a control request 32,000 levels deep (${#request} bytes) and answers the next: $(jq -r .err "$work/answer" | cut -c1-60)..."
