#!/bin/bash
# xfrmd's heap holding N tunnels, under valgrind's massif, inside one UML
# boot (bench/memory starts it): xfrmd installs them itself, answers one
# status, then stops; ms_print's summary and the peak's largest allocation
# sites go to stdout, with the daemon's resident size beside it.
#   memory-guest.sh N
set -euo pipefail
: "${XFRMCTL:?}" "${XFRMD:?}" "${XFRMCTL_REPO:?}"
n=${1:-10000}
. "$XFRMCTL_REPO/tests/uml/lib.sh" # in_ns, xfrm_counts, $WORK
dir=$WORK/memory
trap 'rm -rf "$dir"' EXIT # its ip -batch file holds the keys
python3 "$XFRMCTL_REPO/bench/gen.py" "$n" "$dir"
mkdir -p "$dir/state" "$dir/run" && chmod 700 "$dir/run"
ip netns add xfrmctl && ip -n xfrmctl link set lo up
nsenter --net=/run/netns/xfrmctl valgrind --tool=massif --massif-out-file="$dir/massif.out" \
    "$XFRMD" -c "$dir/defs" --state-dir "$dir/state" --socket "$dir/run/xfrmd.sock" > "$dir/xfrmd.log" 2>&1 &
xfrmd=$!
for _ in $(seq 1800); do
    [ "$(xfrm_counts xfrmctl)" = "$((2 * n)) $((3 * n))" ] && [ -S "$dir/run/xfrmd.sock" ] && break
    sleep 0.5
done
[ "$(xfrm_counts xfrmctl)" = "$((2 * n)) $((3 * n))" ] || { echo "FAIL: xfrmd did not install them: $(tail -3 "$dir/xfrmd.log")"; exit 1; }
sleep 5
in_ns xfrmctl "$XFRMCTL" -c "$dir/defs" --state-dir "$dir/state" --socket "$dir/run/xfrmd.sock" --json status > /dev/null || true
echo "== $n tunnels: xfrmd (under massif) resident $(awk '/^VmRSS/ {print $2}' "/proc/$xfrmd/status") KiB"
kill "$xfrmd"; wait "$xfrmd" 2>/dev/null || true
ms_print "$dir/massif.out" | sed -n '1,40p'
# The peak's allocation tree, and the last snapshot's (what it holds once
# settled), sites under 2 % folded.
detailed=$(ms_print "$dir/massif.out" | sed -n 's/^ Detailed snapshots: \[\(.*\)\]/\1/p')
peak=$(echo "$detailed" | grep -oE '[0-9]+ \(peak\)' | cut -d' ' -f1)
last=$(echo "$detailed" | tr ',' '\n' | tail -1 | tr -dc '0-9')
for snapshot in "$peak" "$last"; do
    echo "== snapshot $snapshot"
    ms_print --threshold=2 "$dir/massif.out" |
        awk -v n="$snapshot" '$1 == n && NF >= 5 { on = 1 } on' | sed -n '1,45p' | cut -c1-160
done
