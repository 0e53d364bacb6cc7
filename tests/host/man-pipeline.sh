#!/bin/bash
# The "check, then apply" line of xfrmctl.json(5)'s EXAMPLES, run as written
# with a stand-in xfrmctl that gives apply --check each exit status the
# real one has: 0 (nothing to do) and 2 (changes pending) go on to apply,
# 1 (an error) stops before it. The line the page had stopped on 2, so it
# never applied anything.
set -euo pipefail
: "${XFRMCTL_REPO:?}"
fail() { echo "FAIL: $*"; exit 1; }
line=$(grep -E '^xfrmctl validate .*xfrmctl apply$' "$XFRMCTL_REPO/man/xfrmctl.json.5") ||
    fail "no 'xfrmctl validate ... xfrmctl apply' line in xfrmctl.json.5"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cat > "$work/xfrmctl" <<'STUB'
#!/bin/sh
echo "$*" >> "$CALLS"
case "$*" in "apply --check"*) exit "$CHECK_EXIT" ;; esac
exit 0
STUB
chmod +x "$work/xfrmctl"
for check in 0 2 1; do
    export CALLS=$work/calls.$check CHECK_EXIT=$check
    PATH=$work:$PATH bash -c "$line" > /dev/null || true
    applied=$(grep -cx apply "$CALLS" || true)
    want=$([ "$check" = 1 ] && echo 0 || echo 1)
    [ "$applied" = "$want" ] || fail "with apply --check exiting $check, '$line' runs apply $applied times, not $want"
done
echo "PASS: '$line' applies when apply --check exits 0 or 2, and not when it exits 1"
