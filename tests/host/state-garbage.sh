#!/bin/bash
# Every entry point (each xfrmctl command, xfrmd's start) against a state
# directory holding what we did not write there: stray files in every
# directory, names like ours that are not ours, damaged, empty and huge
# contents, directories where files belong. Each may refuse (exit 1 with a
# message) but none may abort or die of a signal (exit 128 and above).
# xfrmd either refuses to start (exit 1 with a message) or reaches "ready"
# and then answers apply, down, status and reload on its socket and takes a
# SIGHUP, still running after each.
# Runs in a fresh network namespace (unshare -n).
set -euo pipefail
: "${XFRMCTL:?}" "${XFRMD:?}"
work=$(mktemp -d)
xfrmd_pid=
trap '[ -z "$xfrmd_pid" ] || kill "$xfrmd_pid" 2>/dev/null; rm -rf "$work"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
pass() { echo "PASS: $*"; }

defs=$work/host.json
cat > "$defs" <<'EOF'
{ "version": 1, "host": { "default_policy": "block",
  "bypass": [ { "local": "0.0.0.0/0", "remote": "0.0.0.0/0",
                "traffic": { "protocol": "tcp", "local_port": 22 } } ] } }
EOF

reset_kernel() {
    ip xfrm policy flush
    ip xfrm state flush
    ip xfrm policy setdefault in accept fwd accept out accept
}

# A state directory as apply leaves it: the base of the seeds that keep
# the records whole and add strays around them.
reset_kernel
"$XFRMCTL" -c "$defs" --state-dir "$work/good" apply > /dev/null || fail "the first apply failed"
mkdir -p "$work/good/encap"

strays() { # DIR: names like ours that are not ours, and stray files everywhere
    local d=$1
    mkdir -p "$d/encap"
    echo 1 > "$d/encap/backup-ipv4-4500.pid"
    echo 1 > "$d/encap/ipv4-99999999999999999999.pid"
    echo 1 > "$d/encap/ipv4-.pid"
    echo 1 > "$d/encap/ipv6-0.pid"
    echo 1 > "$d/encap/ipv4-4500x.pid"
    echo 1 > "$d/encap/-.pid"
    echo 1 > "$d/encap/.pid"
    echo 99999999999999999999 > "$d/encap/ipv4-4501.pid"
    printf 'garbage\0\377' > "$d/encap/ipv6-4502.pid"
    mkdir -p "$d/encap/ipv4-4503.pid" "$d/encap/subdir/ipv4-4504.pid"
    : > "$d/encap/ipv4-4505.pid"
    echo "not ours" > "$d/README"
    echo '{' > "$d/owned.json.tmp"
    mkdir -p "$d/some-dir/nested"
    ln -sf /nonexistent "$d/dangling"
}

seed() { # NAME: a state directory with unexpected names and contents
    local d=$work/seeds/$1
    rm -rf "$d"
    mkdir -p "$work/seeds"
    case $1 in
        strays) cp -a "$work/good" "$d"; strays "$d" ;;
        empty) mkdir -m 700 "$d"; for f in owned.json installed-keys.json observed.json lock; do : > "$d/$f"; done
               mkdir "$d/encap"; : > "$d/encap/ipv4-4500.pid" ;;
        garbage) mkdir -m 700 "$d"; strays "$d"
                 echo '{"version": 1, "tunnels": {"x": {"reqid": -1, "sas": [1, 2], "policies": "x"}}}' > "$d/owned.json"
                 echo '[]' > "$d/installed-keys.json"
                 echo '{"sas": {"a": {"packets": -5}}}' > "$d/observed.json" ;;
        huge) cp -a "$work/good" "$d"; strays "$d"
              sed -i 's/"reqid": 0/"reqid": 1e30/; s/"fwd": [0-9]*/"fwd": 99999999999999999999/' "$d/owned.json" ;;
        huge-hints) cp -a "$work/good" "$d"; strays "$d"
              echo '{"version": 1, "sas": {"a": {"packets": 1e400, "since": -1, "known": true}}}' > "$d/observed.json" ;;
        deep) cp -a "$work/good" "$d"; strays "$d"
              head -c 3000000 /dev/zero | tr '\0' '[' > "$d/observed.json" ;;
        tmp-dirs) cp -a "$work/good" "$d"; strays "$d"
                  mkdir "$d/installed-keys.json.tmp" "$d/owned.json.tmp.d" "$d/observed.json.tmp" ;;
        binary) mkdir -m 700 "$d"; strays "$d"
                for f in owned.json installed-keys.json observed.json; do head -c 4096 /dev/urandom > "$d/$f"; done ;;
        dirs) mkdir -m 700 "$d"; mkdir "$d/owned.json" "$d/installed-keys.json" "$d/observed.json" "$d/lock"
              echo x > "$d/encap" ;;
        keys-only) cp -a "$work/good" "$d"; strays "$d"; echo '{"version": 1, "salt": 5, "installed": {"a": 1}}' \
                       > "$d/installed-keys.json" ;;
    esac
    chmod 700 "$d"
}

# Runs one entry point; fails the test on a signal's exit status.
survives() { # SEED LABEL COMMAND...
    local seed=$1 label=$2 rc
    shift 2
    set +e
    "$@" > "$work/out" 2> "$work/err"
    rc=$?
    set -e
    if [ "$rc" -ge 128 ] && [ "$rc" != 124 ]; then # 124: timeout stopped one that kept running
        fail "$seed: $label: exit $rc: $(head -c 2000 "$work/err")"
    fi
    if grep -q "terminate called" "$work/err"; then
        fail "$seed: $label: an exception escaped: $(head -c 2000 "$work/err")"
    fi
    if [ "$rc" = 1 ] && [ ! -s "$work/err" ]; then
        fail "$seed: $label: exit 1 without a message"
    fi
    echo "  $seed: $label: exit $rc $(head -n 1 "$work/err" | cut -c1-160)"
}

# One request on xfrmd's socket, as xfrmctl sends it; its answer's exit
# status on stdout. Raw, because xfrmctl would do the work itself if no
# daemon answered.
ask() { # SEED LABEL REQUEST
    local answer
    answer=$(printf '%s\n' "$3" | timeout 30 nc -U -N "$work/run/xfrmd.sock") || true
    jq -e '.exit | numbers' <<< "$answer" 2> /dev/null ||
        fail "$1: xfrmd gave no answer to $2: '${answer:0:300}': $(tail -3 "$work/xfrmd.log")"
}

running() { # SEED AFTER
    kill -0 "$xfrmd_pid" 2>/dev/null || fail "$1: xfrmd died after $2: $(tail -5 "$work/xfrmd.log")"
    ! grep -q "internal error\|terminate called" "$work/xfrmd.log" ||
        fail "$1: an exception reached xfrmd's edge after $2: $(grep "internal error\|terminate called" "$work/xfrmd.log")"
}

# xfrmd started on a state directory: a refusal to start (exit 1 with a
# message) is allowed; a daemon that neither starts nor refuses within 20 s
# is not. Returns 1 when it refused.
xfrmd_started() { # SEED STATE-DIR
    local seed=$1 rc
    "$XFRMD" -c "$defs" --state-dir "$2" --socket "$work/run/xfrmd.sock" --no-probe > "$work/xfrmd.log" 2>&1 &
    xfrmd_pid=$!
    for _ in $(seq 200); do
        grep -q "xfrmd: ready: " "$work/xfrmd.log" && return 0
        if ! kill -0 "$xfrmd_pid" 2>/dev/null; then
            rc=0
            wait "$xfrmd_pid" || rc=$?
            xfrmd_pid=
            [ "$rc" = 1 ] && [ -s "$work/xfrmd.log" ] && ! grep -q "internal error" "$work/xfrmd.log" ||
                fail "$seed: xfrmd start: exit $rc: $(head -c 2000 "$work/xfrmd.log")"
            echo "  $seed: xfrmd start: exit 1 $(head -n 1 "$work/xfrmd.log" | cut -c1-160)"
            return 1
        fi
        sleep 0.1
    done
    fail "$seed: xfrmd neither ready nor stopped after 20 s: $(tail -5 "$work/xfrmd.log")"
}

# The running xfrmd: every command of its socket, a SIGHUP, then SIGTERM.
drive() { # SEED
    local seed=$1 request rc
    for request in '{"command": "apply"}' '{"command": "down", "all": true}' '{"command": "status"}' \
        '{"command": "reload"}' '{"command": "apply", "check": true}' '{"command": "status", "prometheus": true}'; do
        rc=$(ask "$seed" "$request" "$request")
        running "$seed" "$request"
        echo "  $seed: xfrmd: $request: exit $rc"
    done
    kill -HUP "$xfrmd_pid"
    for _ in $(seq 100); do
        grep -q "definitions .*loaded (SIGHUP)" "$work/xfrmd.log" && break
        sleep 0.1
    done
    grep -q "definitions .*loaded (SIGHUP)" "$work/xfrmd.log" || fail "$seed: xfrmd did not act on SIGHUP"
    running "$seed" SIGHUP
    ask "$seed" "status after SIGHUP" '{"command": "status"}' > /dev/null
    kill -TERM "$xfrmd_pid"
    rc=0
    wait "$xfrmd_pid" || rc=$?
    xfrmd_pid=
    [ "$rc" = 0 ] || fail "$seed: xfrmd stopped with exit $rc: $(tail -5 "$work/xfrmd.log")"
    echo "  $seed: xfrmd: answered every request and SIGHUP, stopped with exit 0"
}

# xfrmd started on the seed, and started on a good state directory that
# then becomes the seed under it (where it refuses to start, the only way
# its requests meet the seed).
daemon_survives() { # SEED
    local seed=$1 live=$work/live
    if xfrmd_started "$seed" "$work/seeds/$seed"; then
        drive "$seed"
    fi
    reset_kernel
    rm -rf "$live" && cp -a "$work/good" "$live"
    xfrmd_started "$seed, swapped in" "$live" || fail "$seed: xfrmd did not start on a good state directory"
    find "$live" -mindepth 1 -delete && cp -a "$work/seeds/$seed/." "$live/"
    reset_kernel # drift to repair: xfrmd writes its records into the seed
    drive "$seed, swapped in"
}

commands=(validate plan apply status "down @host" "down --all" "explain 10.0.0.1 10.0.0.2 tcp 22"
          "explain 10.0.0.1 10.0.0.2 99999999999999999999" capabilities "status --prometheus")
for name in strays empty garbage huge huge-hints deep tmp-dirs binary dirs keys-only; do
    for command in "${commands[@]}"; do
        seed "$name"
        reset_kernel
        # shellcheck disable=SC2086 # the command's words
        survives "$name" "$command" "$XFRMCTL" -c "$defs" --state-dir "$work/seeds/$name" \
            --socket "$work/none.sock" $command
    done
    seed "$name"
    survives "$name" monitor timeout 1 "$XFRMCTL" --state-dir "$work/seeds/$name" monitor
    seed "$name"
    reset_kernel
    mkdir -p -m 700 "$work/run"
    daemon_survives "$name"
    pass "$name: every entry point exits with a status, none with a signal; xfrmd starts and answers, or refuses"
done

# A key history lost from a used state directory is refused, as a damaged
# one is, until the operator starts a new one explicitly.
seed strays
rm "$work/seeds/strays/installed-keys.json"
set +e
"$XFRMCTL" -c "$defs" --state-dir "$work/seeds/strays" apply > "$work/out" 2> "$work/err"
rc=$?
set -e
[ "$rc" = 1 ] && grep -qF "installed-keys.json is missing" "$work/err" ||
    fail "apply without installed-keys.json: exit $rc: $(cat "$work/err")"
"$XFRMCTL" -c "$defs" --state-dir "$work/seeds/strays" --forget-installed-keys apply > "$work/out" ||
    fail "apply --forget-installed-keys: $(cat "$work/out")"
[ -f "$work/seeds/strays/installed-keys.json" ] || fail "--forget-installed-keys wrote no new record"
pass "a lost installed-keys.json is refused; --forget-installed-keys starts a new one"
