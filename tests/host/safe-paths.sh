#!/bin/bash
# --state-dir and --socket: what is missing is created with safe modes; an
# existing directory is checked, never changed (one others may write to,
# or owned by another user, is refused, as ssh does); at the socket's path
# only a stale socket of ours is removed. Run in a fresh network namespace
# (unshare -n).
set -euo pipefail
: "${XFRMCTL:?}" "${XFRMD:?}"
work=$(mktemp -d)
daemon=
trap '[ -z "$daemon" ] || kill "$daemon" 2> /dev/null; rm -rf "$work"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
pass() { echo "PASS: $*"; }
defs=$work/host.json
echo '{ "version": 1 }' > "$defs"

refused() { # WHAT MESSAGE COMMAND...: exits 1 with MESSAGE
    local what=$1 message=$2 rc
    shift 2
    set +e
    "$@" > "$work/out" 2>&1
    rc=$?
    set -e
    [ "$rc" = 1 ] || fail "$what: exit $rc, expected 1: $(cat "$work/out")"
    grep -qF -- "$message" "$work/out" || fail "$what: expected '$message' in: $(cat "$work/out")"
    pass "$what: $(grep -F -- "$message" "$work/out")"
}
mode() { stat -c %a "$1"; }

start_daemon() { # SOCKET: xfrmd, until its socket answers
    "$XFRMD" -c "$defs" --state-dir "$work/dstate" --socket "$1" --no-probe 2> "$work/xfrmd.log" &
    daemon=$!
    for _ in $(seq 100); do
        "$XFRMCTL" --socket "$1" status > /dev/null 2>&1 && return 0
        kill -0 "$daemon" 2> /dev/null || fail "xfrmd did not start: $(cat "$work/xfrmd.log")"
        sleep 0.05
    done
    fail "xfrmd did not answer on $1 within 5 s"
}
stop_daemon() { # SIGNAL
    kill "-$1" "$daemon"
    wait "$daemon" || true
    daemon=
}

# The state directory.
mkdir -m 777 "$work/open"
refused "a world-writable state directory" "writable by group or others (mode 0777)" \
    "$XFRMCTL" -c "$defs" --state-dir "$work/open" apply
[ "$(mode "$work/open")" = 777 ] || fail "its mode was changed to $(mode "$work/open")"
refused "plan reads it no more than apply writes it" "writable by group or others" \
    "$XFRMCTL" -c "$defs" --state-dir "$work/open" plan
mkdir -m 700 "$work/theirs" && chown 65534 "$work/theirs"
refused "a state directory of another user" "owned by uid 65534" \
    "$XFRMCTL" -c "$defs" --state-dir "$work/theirs" apply
mkdir -m 775 "$work/group" && mkdir -m 700 "$work/group/state"
refused "a directory above it that the group may write to" "$work/group: writable by group or others (mode 0775)" \
    "$XFRMCTL" -c "$defs" --state-dir "$work/group/state" apply
"$XFRMCTL" -c "$defs" --state-dir "$work/new/a/state" apply > /dev/null || fail "a missing state directory"
[ "$(mode "$work/new/a/state")-$(mode "$work/new/a")" = 700-755 ] ||
    fail "created as $(mode "$work/new/a/state"), its parent $(mode "$work/new/a")"
pass "a missing state directory is created 0700, missing parents 0755"
mkdir -m 1777 "$work/sticky"
"$XFRMCTL" -c "$defs" --state-dir "$work/sticky/state" apply > /dev/null ||
    fail "a state directory below a sticky world-writable one (as /tmp)"
pass "a sticky world-writable directory above it (as /tmp) is accepted"

# The control socket.
refused "a socket directly in a sticky world-writable directory (as /tmp)" "(mode 1777)" \
    "$XFRMD" -c "$defs" --state-dir "$work/dstate" --socket "$work/sticky/x.sock" --no-probe
[ "$(mode "$work/sticky")" = 1777 ] || fail "its mode was changed to $(mode "$work/sticky")"
mkdir -m 700 "$work/run"
echo "precious" > "$work/run/file"
refused "a regular file at the socket's path" "is a regular file, not a socket" \
    "$XFRMD" -c "$defs" --state-dir "$work/dstate" --socket "$work/run/file" --no-probe
[ "$(cat "$work/run/file")" = precious ] || fail "the file was removed"
mkdir "$work/run/dir"
refused "a directory at the socket's path" "is a directory, not a socket" \
    "$XFRMD" -c "$defs" --state-dir "$work/dstate" --socket "$work/run/dir" --no-probe
start_daemon "$work/run/xfrmd.sock"
refused "a second xfrmd on a live socket" "something already listens on $work/run/xfrmd.sock" \
    "$XFRMD" -c "$defs" --state-dir "$work/dstate2" --socket "$work/run/xfrmd.sock" --no-probe
"$XFRMCTL" --socket "$work/run/xfrmd.sock" status > /dev/null || fail "the first xfrmd lost its socket"
stop_daemon KILL
[ -S "$work/run/xfrmd.sock" ] || fail "SIGKILL left no stale socket to test with"
start_daemon "$work/run/xfrmd.sock"
pass "the stale socket of a killed xfrmd is replaced"
stop_daemon TERM
start_daemon "$work/runtime/new/xfrmd.sock"
# xfrmd's umask (077) may take more from the parents than 0755.
[ "$(mode "$work/runtime/new")" = 700 ] && [ $((0$(mode "$work/runtime") & 022)) = 0 ] ||
    fail "socket directory created as $(mode "$work/runtime/new"), its parent $(mode "$work/runtime")"
pass "a missing socket directory is created 0700, missing parents $(mode "$work/runtime")"
stop_daemon TERM
