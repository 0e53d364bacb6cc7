#!/bin/bash
# No client of the control socket can make xfrmd wait: with twenty idle
# connections, one client sending a byte every three seconds and one
# `xfrmctl status --json` stopped (SIGSTOP) before reading an answer ten
# times what its socket can buffer, all at once, an owned policy deleted by hand
# is back as fast as with no client at all, and another `xfrmctl status`
# answers at once. Each misbehaving client is dropped at its deadline
# (xfrmd(8), CONTROL SOCKET): the idle and slow ones 5 s after they
# connected, the stopped one 30 s after its answer was ready. With more
# clients than it serves at once, the others wait in the backlog.
. "$XFRMCTL_REPO/tests/uml/lib.sh"
N=${CLIENTS_TUNNELS:-80}
ip netns add west && ip -n west link set lo up
python3 "$XFRMCTL_REPO/bench/gen.py" "$N" "$WORK/k"
rm "$WORK/k/install.batch" "$WORK/k/delete.batch" # the benchmark's ip -batch lines (with keys): not used here
mkdir -p "$WORK/west/state"
ln -s "$WORK/k/defs" "$WORK/west/defs"
SOCK=$WORK/west/run/xfrmd.sock
xfrmd_start west
daemon=$(cat "$WORK/west/xfrmd.pid")
expect_rc 0 "xfrmd installed the $N tunnels: all up" xctl west status
# The daemon's end of a connection gets net.core.wmem_default as its send
# buffer when the client connects: that default made small for the stopped
# client's connection alone, so that 80 tunnels' answer is ten times what
# it holds, as 2,000 tunnels' answer is at the usual default.
SNDBUF=8192
answer_bytes=$(xctl west status --json | wc -c)
log "status --json over $N tunnels: $answer_bytes bytes; the stopped client's socket buffers at most $SNDBUF"
expect_gt "$answer_bytes" $((10 * SNDBUF)) "the answer is ten times what the socket can hold"

# repaired_ms: deletes tunnel t7's outbound policy by hand and prints the
# milliseconds until xfrmd has put it back (at most 15 s waited).
policy_ok() { ip -n west xfrm policy get dir out src 10.0.0.0/16 dst 10.1.7.0/24 2>/dev/null | grep -q 'proto esp'; }
repaired_ms() {
    local start elapsed
    ip -n west xfrm policy delete dir out src 10.0.0.0/16 dst 10.1.7.0/24
    start=${EPOCHREALTIME/./}000
    until policy_ok; do
        elapsed=$(((${EPOCHREALTIME/./}000 - start) / 1000000))
        [ "$elapsed" -lt 15000 ] || break
        nap 0.01
    done
    echo $(((${EPOCHREALTIME/./}000 - start) / 1000000))
}
# status_ms: milliseconds a plain `xfrmctl status` takes (at most 15 s).
status_ms() {
    local start
    start=${EPOCHREALTIME/./}000
    timeout 15 nsenter --net=/run/netns/west "$XFRMCTL" -c "$WORK/west/defs" --state-dir "$WORK/west/state" \
        --socket "$SOCK" status > "$WORK/status.out" 2>&1 || true
    echo $(((${EPOCHREALTIME/./}000 - start) / 1000000))
}
# daemon_sockets: the daemon's open sockets (the control socket's clients
# among them), one a line; client_sockets: how many.
daemon_sockets() { find "/proc/$daemon/fd" -lname 'socket:*' -printf '%l\n' | sort; }
client_sockets() { daemon_sockets | wc -l; }

log "no client: the usual time"
quiet=()
for i in 1 2 3 4 5; do quiet+=("$(repaired_ms)"); done
quiet_status=()
for i in 1 2 3; do quiet_status+=("$(status_ms)"); done
log "drift repaired after ${quiet[*]} ms; status took ${quiet_status[*]} ms"
sockets_alone=$(client_sockets) alone_list=$(daemon_sockets)

log "twenty idle clients, one slow, one stopped, at once"
# The idle and slow clients start first and connect when told.
mkfifo "$WORK/go.idle" "$WORK/go.slow"
"$XFRMCTL_REPO/tests/uml/control-client" "$SOCK" idle 20 < "$WORK/go.idle" > "$WORK/idle.out" &
idle=$!
"$XFRMCTL_REPO/tests/uml/control-client" "$SOCK" slow 3 < "$WORK/go.slow" > "$WORK/slow.out" &
slow=$!
exec 7> "$WORK/go.idle" 8> "$WORK/go.slow"
wait_for 20 grep -q ready "$WORK/idle.out" && wait_for 20 grep -q ready "$WORK/slow.out" || fail "the clients did not start"
# The real xfrmctl, stopped by strace as it first calls recvfrom(): its
# request is sent, no byte of the answer read.
wmem_default=$(sysctl -n net.core.wmem_default)
sysctl -qw net.core.wmem_default=$SNDBUF
spawn west strace -o "$WORK/stopped.strace" -e trace=recvfrom -e inject=recvfrom:signal=SIGSTOP:when=1 \
    "$XFRMCTL" -c "$WORK/west/defs" --state-dir "$WORK/west/state" --socket "$SOCK" status --json \
    > "$WORK/stopped.out" 2> "$WORK/stopped.err"
tracer=$! stopped=""
stopped_state() { stopped=$(pgrep -P "$tracer" || true); [ -n "$stopped" ] && grep -q 'stopped by SIGSTOP' "$WORK/stopped.strace"; }
wait_for 10 stopped_state || fail "xfrmctl status --json was not stopped before reading"
stopped_at=${EPOCHREALTIME/./}000
sysctl -qw net.core.wmem_default="$wmem_default"
# xfrmd's end of its connection: the one socket it has now and had not
# before the clients came.
stopped_socket=""
one_new() { stopped_socket=$(comm -13 <(echo "$alone_list") <(daemon_sockets)); [ "$(grep -c . <<< "$stopped_socket")" -eq 1 ]; }
wait_for 5 one_new || fail "xfrmd did not accept xfrmctl's connection (new sockets: $stopped_socket)"
echo go >&7
echo go >&8
# (A daemon that does not accept leaves them blocked in connect() once its
# backlog is full: measured all the same.)
wait_for 10 grep -q connected "$WORK/idle.out" || log "the idle clients could not all connect"
wait_for 10 grep -q connected "$WORK/slow.out" || log "the slow client could not connect"
loaded=()
for i in 1 2 3 4 5; do loaded+=("$(repaired_ms)"); done
loaded_status=()
for i in 1 2 3; do loaded_status+=("$(status_ms)"); done
log "drift repaired after ${loaded[*]} ms; status took ${loaded_status[*]} ms"
stopped_connected() { daemon_sockets | grep -qxF "$stopped_socket"; }
stopped_connected && pass "the stopped client was connected all through ($(((${EPOCHREALTIME/./}000 - stopped_at) / 1000000)) ms)" ||
    fail "the stopped client ($stopped_socket) was dropped before the measurements ended: too slow a machine? $(daemon_sockets | tr '\n' ' ')"
# As fast as with no client. UML on a machine shared with other work
# varies from one repair to the next, so the medians are compared: with
# the clients within twice the median without (at least 1.5 s), and no
# repair slower than 4 s. (Before xfrmd served its clients without
# blocking, the first idle client alone held it 5 s, and the stopped one
# for as long as it stayed stopped.)
median() { printf '%s\n' "$@" | sort -n | sed -n "$((($# + 1) / 2))p"; }
usual=$(median "${quiet[@]}") under_load=$(median "${loaded[@]}")
slowest=$(printf '%s\n' "${loaded[@]}" | sort -n | tail -1)
bound=$((2 * usual > 1500 ? 2 * usual : 1500))
[ "$under_load" -le "$bound" ] && pass "repaired in $under_load ms (median) with the clients, $usual ms without" ||
    fail "repairs took $under_load ms (median) with the clients, $usual ms without (at most $bound)"
[ "$slowest" -le 4000 ] && pass "no repair took more than 4 s with the clients ($slowest ms)" ||
    fail "a repair took $slowest ms with the clients"
status_usual=$(median "${quiet_status[@]}") status_loaded=$(median "${loaded_status[@]}")
status_bound=$((2 * status_usual > 2000 ? 2 * status_usual : 2000))
[ "$status_loaded" -le "$status_bound" ] && pass "status answered in $status_loaded ms (median) with the clients, $status_usual ms without" ||
    fail "status took $status_loaded ms (median) with the clients, $status_usual ms without (at most $status_bound)"
expect_contains "$(cat "$WORK/status.out")" "t7" "its answer lists the tunnels"

log "each misbehaving client dropped at its deadline"
closed() { [ "$(grep -c '^closed' "$1")" -ge "$2" ]; }
wait_for 15 closed "$WORK/idle.out" 20 || fail "the idle clients were not closed: $(cat "$WORK/idle.out")"
wait_for 15 closed "$WORK/slow.out" 1 || fail "the slow client was not closed: $(cat "$WORK/slow.out")"
stopped_gone() { ! stopped_connected; }
wait_for 45 stopped_gone || fail "the stopped client still connected after 45 s"
stopped_ms=$(((${EPOCHREALTIME/./}000 - stopped_at) / 1000000))
log "the stopped client's connection closed by xfrmd $stopped_ms ms after xfrmctl was seen stopped"
[ "$stopped_ms" -ge 29500 ] && [ "$stopped_ms" -le 35000 ] && pass "at its answer's deadline (30 s)" ||
    fail "closed after $stopped_ms ms, not at its answer's deadline (30 s)"
kill "$idle" "$slow"
wait "$idle" "$slow"
no_clients() { [ "$(client_sockets)" -le "$sockets_alone" ]; }
wait_for 10 no_clients || fail "clients still connected: $(ls -l "/proc/$daemon/fd")"
idle_result=$(tail -1 "$WORK/idle.out") slow_result=$(tail -1 "$WORK/slow.out")
log "idle: $idle_result"
log "slow: $slow_result"
dropped_on_time() { json_get "$1" '[.lifetimes[] | select(. < 4.5 or . > 8)] | length'; }
expect_eq "$(dropped_on_time "$idle_result")" 0 "the idle clients were closed at their request deadline (5 s)"
expect_eq "$(json_get "$idle_result" '.answers | join(" ")')" \
    '{"err":"xfrmctl: no whole request arrived within 5 s\n","exit":1,"out":""}' "and told why"
expect_eq "$(dropped_on_time "$slow_result")" 0 "the slow client at its request deadline, bytes or not"
kill -CONT "$stopped"
wait_gone "$tracer"
expect_contains "$(cat "$WORK/stopped.err")" "xfrmd closed the connection without an answer" \
    "the stopped xfrmctl, resumed, finds its connection closed (its answer was not waited for)"
expect_rc 0 "status after it all" xctl west status

log "forty idle clients, more than xfrmd serves at once (32): the others wait in the backlog"
"$XFRMCTL_REPO/tests/uml/control-client" "$SOCK" idle 40 > "$WORK/many.out" &
many=$!
wait_for 10 grep -q connected "$WORK/many.out" || fail "the forty clients did not connect"
served() { echo $(($(client_sockets) - sockets_alone)); }
thirty_two() { [ "$(served)" -eq 32 ]; }
wait_for 5 thirty_two || fail "xfrmd serves $(served) clients, not 32"
crowded_repair=$(repaired_ms)
crowded_status=$(status_ms)
log "drift repaired after $crowded_repair ms; status took $crowded_status ms (in the backlog behind 8)"
[ "$crowded_repair" -le "$bound" ] && pass "repaired in $crowded_repair ms with 32 clients served and 8 waiting" ||
    fail "repair took $crowded_repair ms with 40 clients (at most $bound)"
expect_contains "$(cat "$WORK/status.out")" "t7" "status waited its turn and was answered, not refused"
[ "$crowded_status" -le 10000 ] && pass "within 10 s (a slot frees at the first idle clients' deadline)" ||
    fail "status took $crowded_status ms"
kill "$many"
wait "$many"
xfrmd_stop west
teardown
exit $FAILED
