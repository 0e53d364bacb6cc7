#!/bin/bash
# bench/faults inside the guest: N tunnels from bench/gen.py; validate,
# install, re-apply, change one, status, remove, each under GNU time.
set -euo pipefail
: "${XFRMCTL:?}" "${XFRMCTL_REPO:?}"
. "$XFRMCTL_REPO/tests/uml/lib.sh" # $WORK
n=${1:-10000}
dir=$WORK/$n
trap 'rm -rf "$dir"' EXIT # the key files
python3 "$XFRMCTL_REPO/bench/gen.py" "$n" "$dir"
mkdir -p "$dir/state" "$dir/run" && chmod 700 "$dir/run"
ip netns add bench && ip -n bench link set lo up
measured() {
    local what=$1
    shift
    /usr/bin/time -f "$what: %e s, peak resident %M KiB, page faults %R" \
        nsenter --net=/run/netns/bench "$XFRMCTL" -c "$dir/defs" --state-dir "$dir/state" \
        --socket "$dir/run/xfrmd.sock" "$@" > /dev/null
}
measured validate validate
measured install apply
measured re-apply apply
python3 "$XFRMCTL_REPO/bench/set_subnet.py" "$dir/defs/tunnels.json" "t$((n / 2))" 10.250.0.0/24
measured "change one" apply
measured status --json status
measured remove down --all
