#!/bin/bash
# packaging/xfrmd.service: systemd accepts it, and its hardening keeps the
# exposure systemd-analyze computes at "OK" or better (at most 3.9).
set -euo pipefail
: "${XFRMD:?}" "${XFRMCTL_REPO:?}"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
sed "s|^ExecStart=/usr/sbin/xfrmd|ExecStart=$XFRMD|" "$XFRMCTL_REPO/packaging/xfrmd.service" > "$work/xfrmd.service"
systemd-analyze verify --man=no "$work/xfrmd.service" || { echo "FAIL: systemd-analyze verify"; exit 1; }
echo "PASS: systemd-analyze verify accepts the unit"
exposure=$(systemd-analyze security --offline=yes "$work/xfrmd.service" | sed -n 's/.*Overall exposure level for xfrmd.service: \([0-9.]*\).*/\1/p')
[ -n "$exposure" ] || { echo "FAIL: no exposure level"; exit 1; }
awk -v e="$exposure" 'BEGIN { exit !(e <= 3.9) }' || { echo "FAIL: exposure $exposure > 3.9"; exit 1; }
echo "PASS: exposure level $exposure"
