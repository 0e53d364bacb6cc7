#!/bin/bash
# SIGKILL at random points of an apply of 1,000 tunnels (and of a down
# --all), then apply again: the kernel ends exactly as defined, nothing
# owned is left over, nothing foreign is touched, and no SA is ever
# installed twice (an AEAD key never starts again from a reset counter),
# as `ip xfrm monitor` saw it all along.
. "$XFRMCTL_REPO/tests/uml/lib.sh"
N=1000 KILLS=${FAULT_KILLS:-12}
for ns in west ref; do ip netns add $ns && ip -n $ns link set lo up; done
python3 "$XFRMCTL_REPO/bench/gen.py" "$N" "$WORK/k"
rm "$WORK/k/install.batch" "$WORK/k/delete.batch" # the benchmark's ip -batch lines (with keys): not used here
mkdir -p "$WORK/west/state" "$WORK/ref/state"
x() { local ns=$1; shift; in_ns "$ns" "$XFRMCTL" -c "$WORK/k/defs" --state-dir "$WORK/$ns/state" --socket "$WORK/$ns/none.sock" "$@"; }
sas_now() { xfrm_counts west | cut -d' ' -f1; }
log "the reference: the same definitions applied once, undisturbed"
start=${EPOCHREALTIME/./}000
expect_rc 0 "apply in a namespace of its own" x ref apply
full_ms=$(((${EPOCHREALTIME/./}000 - start) / 1000000))
log "an undisturbed apply of $N tunnels took $full_ms ms"
want=$(kernel_entries ref)

log "foreign entries on west, which nothing may touch"
ip -n west xfrm state add src 203.0.113.1 dst 203.0.113.2 proto esp spi 0x7f000001 reqid 77 mode tunnel \
    aead 'rfc4106(gcm(aes))' "0x$(openssl rand -hex 36)" 128
ip -n west xfrm policy add src 172.16.0.0/24 dst 172.17.0.0/24 dir out tmpl src 203.0.113.1 dst 203.0.113.2 proto esp reqid 77 mode tunnel
foreign=$(kernel_entries west)

# A burst of thousands of events must not overflow the monitor's socket.
sysctl -qw net.core.rmem_max=134217728
ip netns exec west ip -rcvbuf 134217728 xfrm monitor SA > "$WORK/monitor.sa" 2>&1 &
monitor=$!
nap 0.5

# The kernel writes come last, in batches of up to 256 requests per
# sendto(), each a few milliseconds. strace holds each sendto() 100 ms
# after the kernel handled it and reports it to us as it returns, so a kill
# lands between two batches because of what the trace said, not because of
# when a poll happened to look: a kill timed by polling the kernel's counts
# once let a whole apply finish under a loaded guest, and no kill landed.
# (-s 1 keeps its lines short: bash reads a pipe a byte at a time.)
count_now() { xfrm_counts west | awk '{ print $1 + $2 }'; }
mkfifo "$WORK/trace"
# kill_apply WRITES DEADLINE_MS COMMAND...: one xfrmctl COMMAND, SIGKILLed as
# its WRITES-th batch of kernel writes returns, or DEADLINE_MS after it
# started if that comes first
kill_apply() {
    local writes=$1 deadline=$2 tracer pid="" line seen=0 left start trace
    shift 2
    start=${EPOCHREALTIME/./}
    spawn west strace -f -qq -s 1 -o "$WORK/trace" -e trace=sendto -e inject=sendto:delay_exit=100000 \
        "$XFRMCTL" -c "$WORK/k/defs" --state-dir "$WORK/west/state" --socket "$WORK/west/none.sock" "$@" > /dev/null 2>&1
    tracer=$!
    exec {trace}< "$WORK/trace"
    while [ -z "$pid" ] && kill -0 "$tracer" 2>/dev/null; do pid=$(pgrep -P "$tracer" || true); done
    while :; do
        left=$((deadline * 1000 - (${EPOCHREALTIME/./} - start)))
        [ "$left" -gt 0 ] || break
        printf -v left '%d.%06d' $((left / 1000000)) $((left % 1000000))
        if read -r -t "$left" -u "$trace" line; then
            # Only xfrmctl's own writes (a probe child writes in a namespace
            # of its own): new, deleted or updated SAs and policies. strace
            # in the guest can't tell an XFRM socket and prints the type in
            # hex (XFRM_MSG_NEWSA 0x10, DELSA 0x11, NEWPOLICY 0x13,
            # DELPOLICY 0x14, UPDPOLICY 0x19, UPDSA 0x1a).
            [[ $line =~ ^$pid\ .*nlmsg_type=0x1[01349a]\  ]] && seen=$((seen + 1))
            [ "$seen" -lt "$writes" ] || break
        elif [ $? -le 128 ]; then
            break # the trace ended: xfrmctl is gone
        fi
    done
    if [ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null; then echo "killed after $seen write batches"; else echo "finished"; fi
    wait_gone "$tracer"
    exec {trace}<&-
}
full=$((2 * N + 1 + 3 * N + 1)) partial=0 # ours and the foreign SA and policy
attempt() { # COMMAND...: one kill; counts it when it left a part written
    local before after what
    before=$(count_now)
    what=$(kill_apply "$@")
    after=$(count_now)
    log "apply $what; west holds $after entries (was $before)"
    [ "$after" -ne "$before" ] && [ "$after" -ne "$full" ] && partial=$((partial + 1))
    [ "$after" -ne "$full" ]
}
for i in 1 2; do # at a random moment, most likely before any write, at the latest after the first
    attempt 1 $((RANDOM % (full_ms / 2 + 1))) apply || break
done
for i in $(seq "$KILLS"); do # after 1 to 8 of the about 20 batches
    attempt $((1 + RANDOM % 8)) 60000 apply || break
done
expect_gt "$partial" 0 "at least one kill landed while the kernel was being written to"
expect_rc 0 "apply after the kills" x west apply
expect_eq "$(comm -23 <(kernel_entries west) <(echo "$foreign"))" "$want" "west holds exactly what the definitions ask for"
expect_eq "$(comm -13 <(kernel_entries west) <(echo "$foreign"))" "" "the foreign entries are all still there, unchanged"
expect_rc 0 "plan: nothing left to do" x west plan
expect_rc 0 "status: every tunnel up" x west status

log "SIGKILL during down --all, then down --all again"
what=$(kill_apply $((1 + RANDOM % 8)) 60000 down --all)
log "down --all $what; west holds $(sas_now) SAs"
expect_rc 0 "down --all after the kill" x west down --all
expect_eq "$(kernel_entries west)" "$foreign" "only the foreign entries are left: nothing owned left over"

kill "$monitor"; wait "$monitor" 2>/dev/null || true
# Each of our SAs went in once, and none came back after going: a key
# never met a fresh counter twice. (`ip xfrm monitor` prints an SA as
# "[Deleted |Updated ]src A dst B" and then "proto esp spi S ...".)
sa_events() { awk '/^(Deleted |Updated |Expired )?src / { kind = ($1 == "src") ? "added" : $1 }
                   /^[ \t]+proto esp spi 0x[12]0/ { print kind, $4 }' "$WORK/monitor.sa"; }
expect_eq "$(grep -c 'No buffer space' "$WORK/monitor.sa" || true)" 0 "the monitor lost no event"
expect_eq "$(sa_events | awk '$1 == "added"' | sort | uniq -c | awk '$1 > 1' | head -5)" "" "no SA was installed twice"
expect_eq "$(sa_events | awk '$1 == "added"' | sort -u | wc -l)" $((2 * N)) "every one of the $((2 * N)) SAs was installed, once"
expect_eq "$(sa_events | awk '$1 == "Deleted"' | wc -l)" $((2 * N)) "and deleted once, by down --all"
teardown
