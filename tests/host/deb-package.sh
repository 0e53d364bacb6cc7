#!/bin/bash
# The Debian package (scripts/build-deb): built once from the tree, lintian
# finds no error in it, it holds the programs, man pages, unit, tmpfiles.d
# entry and examples, it installs with xfrmd.service neither enabled nor
# started, its examples validate with the installed xfrmctl, systemd accepts
# its unit, and a purge leaves none of its files behind. Root: it installs
# and purges the package, and leaves the machine as it found it (a trap
# purges the package, and whatever apt-get added for it, on any failure).
# The package build compiles the project: minutes. XFRMCTL_DEB=FILE tests
# that package instead of building one.
set -euo pipefail
: "${XFRMCTL_REPO:?}"
[ "$(id -u)" = 0 ] || { echo "FAIL: run as root (dpkg -i, dpkg --purge)"; exit 1; }

# An interrupted run (killed before its trap ran) leaves this marker and the
# package it installed: that one is ours to purge. A package installed by
# anyone else is not touched.
marker=/run/xfrmctl-deb-package.test
installed() { grep -q "ok installed\|config-files\|half" <<< "$(dpkg-query -W -f='${Status}' xfrmctl 2>/dev/null)"; }
if installed; then
    if [ -e "$marker" ]; then
        echo "note: purging the xfrmctl package an interrupted run left"
        dpkg --purge xfrmctl >/dev/null
        # shellcheck disable=SC2046
        [ -s "$marker" ] && dpkg --purge $(cat "$marker") >/dev/null 2>&1 || true
        rm -f "$marker"
    else
        echo "FAIL: a package xfrmctl is already installed: this test would replace and purge it"
        exit 1
    fi
fi

start=$SECONDS
work=$(mktemp -d)
ours=0
cleanup() {
    if [ "$ours" = 1 ]; then
        installed && dpkg --purge xfrmctl >/dev/null 2>&1 || true
        # shellcheck disable=SC2046
        [ -s "$marker" ] && dpkg --purge $(cat "$marker") >/dev/null 2>&1 || true
        rm -f "$marker"
    fi
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT HUP
trap 'exit 143' TERM
fail() { echo "FAIL: $*"; exit 1; }

# Build (once), unless XFRMCTL_DEB names a package already built.
if [ -n "${XFRMCTL_DEB:-}" ]; then
    deb=$XFRMCTL_DEB
    [ -f "$deb" ] || fail "XFRMCTL_DEB=$deb is no file"
    echo "PASS: testing $deb (XFRMCTL_DEB), not built here"
else
    deb=$("$XFRMCTL_REPO/scripts/build-deb" "$work/out" > "$work/build.log" 2>&1 && tail -n 1 "$work/build.log") ||
        { tail -n 40 "$work/build.log"; fail "scripts/build-deb"; }
    [ -f "$deb" ] || fail "scripts/build-deb names no .deb ($deb)"
    echo "PASS: scripts/build-deb built $(basename "$deb") in $((SECONDS - start))s"
    ! compgen -G "$XFRMCTL_REPO/debian" > /dev/null && ! compgen -G "$XFRMCTL_REPO/obj-*" > /dev/null ||
        fail "the build left debian/ or obj-*/ in the source tree"
    echo "PASS: the source tree has no debian/ or build directory of the package"
fi

# lintian: errors fail, the rest is shown.
lintian_out=$(lintian -I --show-overrides "$deb" 2>&1 | grep -v '^running with root privileges' || true)
[ -n "$lintian_out" ] && printf '%s\n' "$lintian_out" | sed 's/^/  lintian: /'
grep -q '^E: ' <<< "$lintian_out" && fail "lintian reports errors"
echo "PASS: lintian reports no error ($(grep -c '^W: ' <<< "$lintian_out" || true) warnings," \
     "$(grep -c '^O: ' <<< "$lintian_out" || true) overridden)"

# Contents.
contents=$(dpkg-deb -c "$deb" | awk '{ print $1, $NF }')
has() { # MODE-PATTERN PATH
    grep -qx -- "$1 \./$2" <<< "$contents" || fail "the package has no $2 ($1)"
}
has '-rwxr-xr-x' usr/sbin/xfrmctl
has '-rwxr-xr-x' usr/sbin/xfrmd
has '-rw-r--r--' usr/share/man/man8/xfrmctl.8.gz
has '-rw-r--r--' usr/share/man/man8/xfrmd.8.gz
has '-rw-r--r--' usr/share/man/man5/xfrmctl.json.5.gz
has '-rw-r--r--' lib/systemd/system/xfrmd.service
has '-rw-r--r--' usr/lib/tmpfiles.d/xfrmctl.conf
has '-rw-r--r--' usr/share/doc/xfrmctl/copyright
has 'drwx.-x---' etc/xfrmctl/tunnels.d/
has 'drwx------' etc/xfrmctl/keys/
(cd "$XFRMCTL_REPO/policies" && find . -type f) | while read -r f; do
    has '-rw-r--r--' "usr/share/doc/xfrmctl/examples/${f#./}"
done
collection=usr/share/ansible/collections/ansible_collections/xfrmctl/ipsec
for f in galaxy.yml plugins/modules/xfrm_tunnel.py plugins/modules/xfrm_status.py plugins/module_utils/xfrmctl.py; do
    has '-rw-r--r--' "$collection/$f"
done
echo "PASS: the package holds both programs, the three man pages, the unit, the tmpfiles.d entry," \
     "/etc/xfrmctl/tunnels.d/ (not world-readable), /etc/xfrmctl/keys/ (0700), every file of policies/ as examples and the Ansible collection"

# Hardening of the programs: PIE, full RELRO, stack protector, fortified calls.
mkdir "$work/x"
dpkg-deb -x "$deb" "$work/x"
for p in xfrmctl xfrmd; do
    bin=$work/x/usr/sbin/$p
    # (grep reads all of it: grep -q on a pipe would fail it by SIGPIPE)
    elf=$(readelf -hldW --dyn-syms "$bin")
    grep -q 'Type:.*DYN' <<< "$elf" || fail "$p is not PIE"
    grep -q GNU_RELRO <<< "$elf" || fail "$p has no RELRO"
    grep -q 'BIND_NOW\|FLAGS_1.*NOW' <<< "$elf" || fail "$p is not bound now"
    grep -q '__stack_chk_fail' <<< "$elf" || fail "$p has no stack protector"
    grep -q '__[a-z0-9_]*_chk@' <<< "$elf" || fail "$p calls no fortified function"
done
echo "PASS: both programs are PIE, with full RELRO, a stack protector and fortified calls"

# Install (Depends from Debian's registry if some are missing, no Recommends).
dpkg-query -W -f='${Package}\n' | sort > "$work/before"
ours=1
touch "$marker"
if ! dpkg -i "$deb" > "$work/install.log" 2>&1; then
    DEBIAN_FRONTEND=noninteractive apt-get install -f -y -qq --no-install-recommends >> "$work/install.log" 2>&1 ||
        { cat "$work/install.log"; fail "dpkg -i (and apt-get -f install)"; }
fi
dpkg-query -W -f='${Package}\n' | sort | comm -13 "$work/before" - | grep -vx xfrmctl > "$marker" || true
installed || { cat "$work/install.log"; fail "xfrmctl is not installed after dpkg -i"; }
added=$(tr '\n' ' ' < "$marker")
echo "PASS: dpkg -i installs it${added:+ (apt-get added: $added)}"

[ -x /usr/sbin/xfrmctl ] && [ -x /usr/sbin/xfrmd ] || fail "no /usr/sbin/xfrmctl and /usr/sbin/xfrmd after installation"
state=$(systemctl is-enabled xfrmd.service 2>&1 || true)
[ "$state" = disabled ] || fail "xfrmd.service is '$state' after installation, not disabled"
compgen -G "/etc/systemd/system/*.wants/xfrmd.service" > /dev/null && fail "xfrmd.service has a .wants link"
if [ -d /run/systemd/system ]; then
    ! systemctl is-active --quiet xfrmd.service || fail "xfrmd.service was started on installation"
fi
echo "PASS: xfrmd.service is installed disabled and not started"
if command -v systemd-tmpfiles > /dev/null; then
    [ "$(stat -c %a /var/lib/xfrmctl 2>/dev/null)" = 700 ] || fail "/var/lib/xfrmctl is not a 0700 directory after installation"
    echo "PASS: systemd-tmpfiles made /var/lib/xfrmctl (0700)"
fi
man -w 5 xfrmctl.json > /dev/null 2>&1 && man -w 8 xfrmd > /dev/null 2>&1 && man -w 8 xfrmctl > /dev/null 2>&1 ||
    fail "man does not find the installed pages"
echo "PASS: man finds xfrmctl(8), xfrmd(8) and xfrmctl.json(5)"

# Every packaged example validates with the installed xfrmctl (on a copy
# whose keys are 0600, as xfrmctl requires).
examples=/usr/share/doc/xfrmctl/examples
n=0
for dir in "$examples"/*/; do
    name=$(basename "$dir")
    rm -rf "$work/example"
    cp -r "$dir" "$work/example"
    [ -d "$work/example/keys" ] && chmod 600 "$work/example/keys/"*
    for def in "$work/example"/*.json; do
        out=$(/usr/sbin/xfrmctl -c "$def" --no-probe validate 2>&1) ||
            { printf '%s\n' "$out"; fail "xfrmctl validate $name/$(basename "$def")"; }
        n=$((n + 1))
    done
done
[ "$n" -gt 0 ] || fail "no example definition under $examples"
echo "PASS: xfrmctl validate accepts the $n definitions of the packaged examples"

systemd-analyze verify /lib/systemd/system/xfrmd.service || fail "systemd-analyze verify of the installed unit"
echo "PASS: systemd-analyze verify accepts the installed unit (and its man: pages)"

# The installed collection is where ansible looks by default.
if command -v ansible-doc > /dev/null; then
    doc=$(HOME=$(mktemp -d) ansible-doc xfrmctl.ipsec.xfrm_tunnel 2>&1) || fail "ansible-doc xfrmctl.ipsec.xfrm_tunnel: $doc"
    grep -q 'state' <<< "$doc" || fail "ansible-doc rendered no options: $doc"
    echo "PASS: ansible-doc renders the installed collection's xfrm_tunnel"
    doc=$(HOME=$(mktemp -d) ansible-doc -t role xfrmctl.ipsec.mesh 2>&1) || fail "ansible-doc -t role xfrmctl.ipsec.mesh: $doc"
    grep -q 'xfrm_mesh_topology' <<< "$doc" || fail "ansible-doc rendered no role variables: $doc"
    echo "PASS: ansible-doc renders the installed collection's mesh role"
fi

# Purge: no file of the package is left, nor /etc/xfrmctl or /var/lib/xfrmctl.
dpkg -L xfrmctl > "$work/files"
dpkg --purge xfrmctl > "$work/purge.log" 2>&1 || { cat "$work/purge.log"; fail "dpkg --purge"; }
# shellcheck disable=SC2046
[ -s "$marker" ] && { dpkg --purge $(cat "$marker") > /dev/null 2>&1 || fail "dpkg --purge $(cat "$marker")"; }
rm -f "$marker"
ours=0
installed && fail "dpkg still knows xfrmctl after the purge"
left=()
while read -r path; do
    [ "$path" = /. ] && continue
    [ -e "$path" ] || [ -L "$path" ] || continue
    # A directory another package holds too (/usr/sbin, /etc, ...) stays, as
    # do the merged-/usr links (/lib -> usr/lib).
    if [ -d "$path" ]; then
        [ -L "$path" ] && continue
        dpkg -S "$path" > /dev/null 2>&1 && continue
    fi
    left+=("$path")
done < "$work/files"
[ ${#left[@]} = 0 ] || fail "left after the purge: ${left[*]}"
for d in /etc/xfrmctl /var/lib/xfrmctl; do
    [ ! -e "$d" ] || fail "$d is left after the purge"
done
compgen -G "/var/lib/systemd/deb-systemd-helper-*/*xfrmd*" > /dev/null && fail "deb-systemd-helper state of xfrmd.service is left"
echo "PASS: dpkg --purge leaves none of its $(wc -l < "$work/files") paths (but shared directories)," \
     "nor /etc/xfrmctl or /var/lib/xfrmctl"
echo "PASS: done in $((SECONDS - start))s"
