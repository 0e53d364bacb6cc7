#!/bin/bash
# The man pages pass mandoc's lint with no warning.
set -euo pipefail
: "${XFRMCTL_REPO:?}"
out=$(mandoc -T lint -W warning "$XFRMCTL_REPO"/man/* 2>&1) || true
[ -z "$out" ] || { echo "FAIL: mandoc -T lint:"; echo "$out"; exit 1; }
echo "PASS: mandoc -T lint -W warning: $(ls "$XFRMCTL_REPO"/man | tr '\n' ' ')"
