#!/bin/bash
# The capability cache's effect: 20 runs of `xfrmctl plan` on one small
# definition (policies/site-to-site, west) for each xfrmctl given, each with
# a runtime directory of its own, after one untimed run (the kernel's
# modules loaded, the cache written); then the last one with --no-probe,
# the floor. Run it natively (as root, in `unshare -n`) or in User-Mode
# Linux, in one boot for a fair comparison:
#   tests/uml/run bench/probe-cache.sh OLD_XFRMCTL NEW_XFRMCTL
# (the paths absolute, under the repository; the guest writes only /run).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
runs=${RUNS:-20}
work=$(mktemp -d /run/probe-cache.XXXXXX)
trap 'rm -rf "$work"' EXIT
cp -r "$repo/policies/site-to-site" "$work/"
chmod 600 "$work"/site-to-site/keys/*
ip link set lo up
ip addr add 192.0.2.1/32 dev lo 2>/dev/null || true

time_runs() { # LABEL XFRMCTL ARGS...
    local label=$1
    shift
    "$@" > /dev/null 2>&1 || true
    local start end
    start=$(date +%s%N)
    for _ in $(seq "$runs"); do "$@" > /dev/null 2>&1 || true; done
    end=$(date +%s%N)
    echo "RESULT $label: $runs x plan in $(((end - start) / 1000000)) ms, $(((end - start) / 1000000 / runs)) ms each"
}

n=0
for xfrmctl in "$@"; do
    n=$((n + 1))
    args=(-c "$work/site-to-site/west.json" --state-dir "$work/state$n" --socket "$work/run$n/xfrmd.sock")
    time_runs "$xfrmctl" "$xfrmctl" "${args[@]}" plan
done
time_runs "$xfrmctl --no-probe" "$xfrmctl" "${args[@]}" --no-probe plan
