#!/bin/bash
# The man pages pass mandoc's lint with no warning; each has a FILES and a
# SEE ALSO section, and its SEE ALSO names the other two pages; and no
# example in the pages or the READMEs writes a key (openssl rand, head -c)
# before a umask 077: with chmod after it, the key is readable by others
# for a moment.
set -euo pipefail
: "${XFRMCTL_REPO:?}"
man=$XFRMCTL_REPO/man
failed=0
missing() { echo "FAIL: $1"; failed=1; }

out=$(mandoc -T lint -W warning "$man"/* 2>&1) || true
[ -z "$out" ] || missing "mandoc -T lint -W warning:
$out"

# section PAGE NAME: the section's lines, from its .Sh to the next.
section() { sed -n "/^\\.Sh $2\$/,/^\\.Sh /p" "$man/$1" | sed '1d; /^\.Sh /d'; }
pages=(xfrmctl.8 xfrmd.8 xfrmctl.json.5)
for page in "${pages[@]}"; do
    [ -n "$(section "$page" FILES)" ] || missing "$page has no FILES section"
    for other in "${pages[@]}"; do
        [ "$other" != "$page" ] || continue
        name=${other%.*} number=${other##*.}
        section "$page" "SEE ALSO" | grep -qE "^\.Xr $name $number\b" ||
            missing "$page's SEE ALSO lacks $name($number)"
    done
done

# A key write needs "umask 077" earlier on its line, or earlier in its
# example (.Bd to .Ed, or a ``` block).
unmasked=$(awk '
    FNR == 1 { block = 0; masked = 0 }
    /^\.Bd/ { block = 1; masked = 0 }
    /^\.Ed/ { block = 0; masked = 0 }
    /^[ \t]*```/ { block = !block; masked = 0 }
    match($0, /(openssl rand|head -c)[^>]*>/) && !masked && substr($0, 1, RSTART - 1) !~ /umask 077/ {
        print FILENAME ":" FNR ": " $0
    }
    block && /umask 077/ { masked = 1 }
' "$man"/* "$XFRMCTL_REPO"/README.md "$XFRMCTL_REPO"/policies/README.md \
    "$XFRMCTL_REPO"/packaging/ansible/ansible_collections/xfrmctl/ipsec/README.md)
[ -z "$unmasked" ] || missing "a key written without umask 077 before it:
$unmasked"

[ "$failed" = 0 ] && echo "PASS: mandoc -T lint -W warning, FILES and SEE ALSO, umask before key writes: $(ls "$man" | tr '\n' ' ')"
exit "$failed"
