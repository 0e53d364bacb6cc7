#!/bin/bash
# The benchmark inside one User-Mode Linux boot (bench/run starts it): for
# each size, xfrmctl and iproute2's `ip -batch` do the same work in two
# fresh network namespaces, timed with the same clock, back to back.
# Prints one "RESULT key value" line per figure; bench/run makes the table.
#   guest.sh [N...]
set -euo pipefail
: "${XFRMCTL:?}" "${XFRMD:?}" "${XFRMCTL_REPO:?}"
SIZES=${*:-1000 10000} # the sizes, as arguments
. "$XFRMCTL_REPO/tests/uml/lib.sh" # kernel_entries, $WORK

now() { date +%s.%N; }
# timed NAME COMMAND...: runs it, prints "RESULT NAME seconds" on stderr
timed() {
    local name=$1 start end
    shift
    start=$(now)
    "$@"
    end=$(now)
    # on stderr: the command's own output may be redirected
    echo "RESULT $name $(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.4f", b - a }')" >&2
}
x() { in_ns xfrmctl "$XFRMCTL" -c "$dir/defs" --state-dir "$dir/state" --socket "$dir/run/xfrmd.sock" "$@"; }
fresh() { ip netns del "$1" 2>/dev/null || true; ip netns add "$1"; ip -n "$1" link set lo up; }
rss_kib() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }
# change_one TUNNEL SUBNET KEY: gives the tunnel's peer that subnet, applies,
# and counts the kernel writes `ip xfrm monitor` saw.
change_one() {
    python3 "$XFRMCTL_REPO/bench/set_subnet.py" "$dir/defs/tunnels.json" "$1" "$2"
    in_ns xfrmctl ip xfrm monitor > "$dir/monitor" 2>&1 &
    local monitor=$!
    sleep 1
    timed "$3" x apply > /dev/null
    sleep 1
    kill "$monitor"; wait "$monitor" 2>/dev/null || true
    echo "RESULT $3.writes $(grep -cE '^(Deleted )?(src|Updated)' "$dir/monitor" || true)"
    echo "RESULT $3.touched $(grep -oE 'dst 10\.[0-9.]+/24|src 10\.[0-9.]+/24' "$dir/monitor" | sort -u | tr '\n' ' ')"
}

echo "RESULT kernel $(uname -r)"
for n in $SIZES; do
    dir=$WORK/$n
    python3 "$XFRMCTL_REPO/bench/gen.py" "$n" "$dir"
    mkdir -p "$dir/state" "$dir/run" && chmod 700 "$dir/run"
    fresh iproute && fresh xfrmctl
    echo "== $n tunnels: $(wc -l < "$dir/install.batch") ip commands"

    timed "$n.install.ip" ip -n iproute -batch "$dir/install.batch"
    timed "$n.install.xfrmctl" x apply > /dev/null
    [ "$(xfrm_counts iproute)" = "$(xfrm_counts xfrmctl)" ] || { echo "FAIL: different entries: ip $(xfrm_counts iproute), xfrmctl $(xfrm_counts xfrmctl)"; exit 1; }
    echo "RESULT $n.entries $(xfrm_counts xfrmctl | tr ' ' '/')"
    if ! diff <(kernel_entries iproute) <(kernel_entries xfrmctl) > "$dir/entries.diff"; then
        echo "FAIL: ip -batch and xfrmctl installed different entries:"; grep '^>' "$dir/entries.diff" | head -3; grep '^<' "$dir/entries.diff" | head -3; exit 1
    fi

    timed "$n.reapply.xfrmctl" x apply > /dev/null

    # One tunnel changes (its peer's subnet): only its three policies move.
    change_one "t$((n / 2))" 10.250.0.0/24 "$n.change1"

    timed "$n.status.xfrmctl" x --json status > "$dir/status.json"
    echo "RESULT $n.status.tunnels $(jq '.tunnels | length' "$dir/status.json")"

    # (ip xfrm state deleteall gives up on this many SAs: "State buffer overflow")
    timed "$n.remove.ip" ip -n iproute -batch "$dir/delete.batch"
    timed "$n.remove.xfrmctl" x down --all > /dev/null
    echo "RESULT $n.left $(xfrm_counts iproute | tr ' ' '/') $(xfrm_counts xfrmctl | tr ' ' '/')"

    # xfrmd holding them: it installs them itself, then answers status.
    rm -rf "$dir/state" && mkdir -p "$dir/state"
    fresh xfrmctl
    nsenter --net=/run/netns/xfrmctl "$XFRMD" -c "$dir/defs" --state-dir "$dir/state" --socket "$dir/run/xfrmd.sock" \
        > "$dir/xfrmd.log" 2>&1 &
    xfrmd=$!
    for _ in $(seq 600); do
        [ "$(xfrm_counts xfrmctl)" = "$((2 * n)) $((3 * n))" ] && [ -S "$dir/run/xfrmd.sock" ] && break
        sleep 0.5
    done
    sleep 2
    echo "RESULT $n.xfrmd.rss_kib $(rss_kib "$xfrmd")"
    timed "$n.status.xfrmd" x --json status > /dev/null
    echo "RESULT $n.xfrmd.rss_after_status_kib $(rss_kib "$xfrmd")"
    # The same work handed to xfrmd (what `xfrmctl apply` does when it listens).
    timed "$n.reapply.xfrmd" x apply > /dev/null
    change_one "t$((n / 2 + 1))" 10.251.0.0/24 "$n.change1.xfrmd"
    kill "$xfrmd"; wait "$xfrmd" 2>/dev/null || true
    ip netns del iproute; ip netns del xfrmctl
    rm -rf "$dir"
done
