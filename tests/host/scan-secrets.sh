#!/bin/bash
# tests/uml/scan-secrets makes no claim about nothing: a scan with no key to
# look for prints no PASS (the demo printed "PASS: none of the 0 test keys
# is in the 1 files written"), and `check` looks for the keys a run used
# (scripts/demo: those of policies/site-to-site), finds them where they
# leaked, and fails when there is no key to look for.
set -euo pipefail
: "${XFRMCTL_REPO:?}"
scan=$XFRMCTL_REPO/tests/uml/scan-secrets
example=$XFRMCTL_REPO/policies/site-to-site
fail() { echo "FAIL: $*"; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir "$work/store" "$work/written" "$work/empty"
echo "tunnel west-east up" > "$work/written/status"

out=$("$scan" scan "$work/store" "$work/written") || fail "scan with no key kept exits $?: $out"
[ -z "$out" ] || fail "scan with no key to look for prints: $out"
echo "PASS: a scan with no key to look for claims nothing"

n=$(find "$example/keys" -type f | wc -l)
out=$("$scan" check "$example" "$work/written") || fail "check of the example's keys on a clean output: $out"
[ "$out" = "PASS: none of the $n test keys is in the 1 files written" ] || fail "check on a clean output prints: $out"
echo "PASS: check looks for the $n keys of policies/site-to-site: $out"

for key in "$example"/keys/*; do
    name=$(basename "$key")
    tr a-f A-F < "$key" > "$work/written/$name.log" # as hex, in capitals
    if out=$("$scan" check "$example" "$work/written"); then fail "check misses $name in the output: $out"; fi
    grep -q "FAIL: key material .* found in $work/written/$name.log" <<< "$out" || fail "check on a leak of $name prints: $out"
    rm "$work/written/$name.log"
done
echo "PASS: check finds each of the example's keys in an output that holds it"

if out=$("$scan" check "$work/empty" "$work/written"); then fail "check with no key under its directory passes: $out"; fi
[ "$out" = "FAIL: no test key under $work/empty to look for" ] || fail "check with no key prints: $out"
echo "PASS: check with no key to look for fails"
