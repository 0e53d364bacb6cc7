#!/bin/bash
# scripts/build-deb builds from the files git tracks, as they are in the
# work tree: an untracked file (what an ansible-test run leaves in
# tests/output/) or an ignored one never gets into the package, an
# uncommitted change does, a deleted file does not come back. Seen in a
# scratch repository holding build-deb and the packaging, with a stand-in
# dpkg-buildpackage that keeps a copy of the tree it is given: seconds, not
# the minutes of a real package build (host.deb-package builds one).
set -euo pipefail
: "${XFRMCTL_REPO:?}"
fail() { echo "FAIL: $*"; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

repo=$work/repo
mkdir -p "$repo/scripts" "$repo/packaging" "$work/bin"
cp "$XFRMCTL_REPO/scripts/build-deb" "$repo/scripts/"
cp "$XFRMCTL_REPO/CMakeLists.txt" "$repo/"
cp -r "$XFRMCTL_REPO/packaging/debian" "$repo/packaging/"
printf '#!/bin/sh\nexit 0\n' > "$repo/scripts/install-deps" # as root build-deb runs it
chmod +x "$repo/scripts/install-deps"
mkdir -p "$repo/src"
echo committed > "$repo/src/kept.txt"
echo doomed > "$repo/src/deleted.txt"
echo '*.log' > "$repo/.gitignore"
git -C "$repo" init -q
git -C "$repo" add -A
git -C "$repo" -c user.name=t -c user.email=t@example.org commit -q -m scratch
echo changed > "$repo/src/kept.txt"
rm "$repo/src/deleted.txt"
mkdir -p "$repo/tests/output/.tmp"
echo junk > "$repo/tests/output/.tmp/result.xml"
echo junk > "$repo/build.log"

# The stand-in: keeps what it was given, makes an empty .deb beside it.
cat > "$work/bin/dpkg-buildpackage" <<STUB
#!/bin/sh
cp -a . "$work/seen"
touch ../xfrmctl_0_all.deb
STUB
chmod +x "$work/bin/dpkg-buildpackage"
PATH=$work/bin:$PATH "$repo/scripts/build-deb" "$work/out" > "$work/build.log" 2>&1 ||
    { cat "$work/build.log"; fail "scripts/build-deb (with the stand-in dpkg-buildpackage)"; }

seen=$(cd "$work/seen" && find . -type f | sed 's|^\./||' | sort)
[ "$(cat "$work/seen/src/kept.txt")" = changed ] || fail "the uncommitted change of src/kept.txt is not in the build"
[ -f "$work/seen/debian/control" ] || fail "the build has no debian/ (from packaging/debian)"
for f in tests/output/.tmp/result.xml build.log src/deleted.txt; do
    ! grep -qx "$f" <<< "$seen" || fail "the build was given $f, which git does not track (or no longer has)"
done
expected=$( (git -C "$repo" ls-files; cd "$repo/packaging" && find debian -type f) | grep -vx src/deleted.txt | sort)
[ "$seen" = "$expected" ] || fail "the build was given other files than git tracks: $(diff <(echo "$expected") <(echo "$seen") | grep '^[<>]' | tr '\n' ' ')"
echo "PASS: scripts/build-deb gives dpkg-buildpackage the $(wc -l <<< "$seen") files git tracks (an uncommitted change" \
     "included), not an untracked tests/output/ file, an ignored file or a deleted one"
