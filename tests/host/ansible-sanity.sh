#!/bin/bash
# ansible-test sanity on the Ansible collection (packaging/ansible), offline,
# with Debian's ansible-core and Debian's linters (scripts/install-deps):
# ansible-test's sanity environments are primed over Debian's packages
# (ansible_sanity_venvs.py) instead of pip-installed. It runs on a copy in a
# temporary directory, since ansible-test writes tests/output into the
# collection. Then ansible-doc must show every "see also" entry (it drops
# malformed ones without a word).
set -euo pipefail
: "${XFRMCTL_REPO:?}"
fail() { echo "FAIL: $*"; exit 1; }
pass() { echo "PASS: $*"; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Debian's Python and ansible-core, whatever else comes first on PATH (pyenv).
python=/usr/bin/python3
[ -x /usr/bin/ansible-test ] || fail "/usr/bin/ansible-test missing (scripts/install-deps: ansible-core)"
collection=$work/ansible_collections/xfrmctl/ipsec
mkdir -p "$(dirname "$collection")" "$work/home"
cp -r "$XFRMCTL_REPO/packaging/ansible/ansible_collections/xfrmctl/ipsec" "$collection"
rm -rf "$collection/tests/output"
debian() { env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME="$work/home" LC_ALL=C.UTF-8 PYTHONDONTWRITEBYTECODE=1 "$@"; }

debian "$python" "$XFRMCTL_REPO/tests/host/ansible_sanity_venvs.py"
version=$("$python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
# Every test ansible-test has for a collection runs; none is skipped here.
(cd "$collection" && debian "$python" /usr/bin/ansible-test sanity --local --color no \
    --python "$version" --python-interpreter "$python") > "$work/sanity.out" 2>&1 ||
    fail "ansible-test sanity: $(grep -v '^Running sanity test' "$work/sanity.out")"
grep -q 'Running sanity test "validate-modules"' "$work/sanity.out" || fail "validate-modules did not run: $(cat "$work/sanity.out")"
if grep -i 'skipping' "$work/sanity.out"; then fail "a sanity test was skipped"; fi
pass "ansible-test sanity: $(grep -c '^Running sanity test' "$work/sanity.out") tests, Python $version"

for module in xfrm_tunnel xfrm_status; do
    debian ANSIBLE_COLLECTIONS_PATH="$work" /usr/bin/ansible-doc "xfrmctl.ipsec.$module" > "$work/$module.doc" 2>&1 ||
        fail "ansible-doc $module: $(cat "$work/$module.doc")"
    grep -q 'man:xfrmctl(8)' "$work/$module.doc" || fail "ansible-doc $module dropped the see-also of xfrmctl(8)"
done
grep -q 'man:xfrmctl.json(5)' "$work/xfrm_tunnel.doc" || fail "ansible-doc xfrm_tunnel dropped the see-also of xfrmctl.json(5)"
pass "ansible-doc shows the man pages under SEE ALSO"
