#!/bin/bash
# --version: both programs print their name and the one version there is,
# CMake's project version (CMakeLists.txt), which the Debian changelog's
# upstream version must equal (scripts/build-deb refuses to build otherwise).
set -euo pipefail
: "${XFRMCTL:?}" "${XFRMD:?}" "${XFRMCTL_REPO:?}"
fail() { echo "FAIL: $*"; exit 1; }
cmake_version=$(sed -n 's/^project([^)]*VERSION \([0-9.]*\).*/\1/p' "$XFRMCTL_REPO/CMakeLists.txt")
[ -n "$cmake_version" ] || fail "no project version in CMakeLists.txt"
deb_version=$(dpkg-parsechangelog -l "$XFRMCTL_REPO/packaging/debian/changelog" -S Version)
[ "${deb_version%-*}" = "$cmake_version" ] ||
    fail "packaging/debian/changelog is at $deb_version, CMakeLists.txt at $cmake_version"
echo "PASS: CMakeLists.txt and packaging/debian/changelog agree on $cmake_version"
for program in xfrmctl:"$XFRMCTL" xfrmd:"$XFRMD"; do
    name=${program%%:*}
    out=$("${program#*:}" --version) || fail "$name --version exits $?"
    [ "$out" = "$name $cmake_version" ] || fail "$name --version prints '$out', not '$name $cmake_version'"
    echo "PASS: $name --version prints '$out' and exits 0"
done
# As a global option before or after the command, as ip -V and wg --version take it.
out=$("$XFRMCTL" status --version) || fail "xfrmctl status --version exits $?"
[ "$out" = "xfrmctl $cmake_version" ] || fail "xfrmctl status --version prints '$out'"
echo "PASS: xfrmctl status --version prints the version and touches nothing"
