#!/bin/bash
# The man pages cannot drift from the programs: every long option that
# xfrmctl (and each of its commands) and xfrmd print in --help is in their
# page, and in its SYNOPSIS too (by its short name where it has one), and
# every field name the definition reader accepts (the lists it checks
# objects against, in src/model) is in xfrmctl.json(5).
set -euo pipefail
: "${XFRMCTL:?}" "${XFRMD:?}" "${XFRMCTL_REPO:?}"
man=$XFRMCTL_REPO/man
failed=0
missing() { echo "FAIL: $1"; failed=1; }

long_options() { "$@" --help | grep -oE -- '(^ +-[a-z],| )--[a-z][a-z-]*' | sed -E 's/^ +//' | grep -v -- '--help$' | sort -u; }

# The page's SYNOPSIS section, from its .Sh to the next.
synopsis() { sed -n '/^\.Sh SYNOPSIS$/,/^\.Sh /p' "$man/$1"; }

# check_options PAGE PROGRAM...: each option of the program's --help must
# be "Fl -name" in the page, and in its SYNOPSIS (as "Fl x" if it has the
# short name -x); adds to $checked, reports what is missing.
checked=0
check_options() {
    local page=$1 option name short
    shift
    for option in $(long_options "$@"); do
        name=${option##*--} short=
        [[ $option != -?,* ]] || short=${option:1:1}
        grep -q -- "Fl -$name\b" "$man/$page" || missing "$page lacks --$name (from $* --help)"
        synopsis "$page" | grep -qE -- "Fl (-$name${short:+|$short})\b" ||
            missing "$page's SYNOPSIS lacks --$name (from $* --help)"
        checked=$((checked + 1))
    done
}

check_options xfrmctl.8 "$XFRMCTL"
for command in $("$XFRMCTL" --help | sed -n '/^Subcommands:/,$p' | awk 'NR > 1 && NF { print $1 }'); do
    check_options xfrmctl.8 "$XFRMCTL" "$command"
done
[ "$checked" -gt 10 ] || missing "only $checked xfrmctl options found: is --help parsed right?"
echo "checked: xfrmctl.8 against $checked long options of xfrmctl and its commands"
checked=0
check_options xfrmd.8 "$XFRMD"
[ "$checked" -gt 5 ] || missing "only $checked xfrmd options found"
echo "checked: xfrmd.8 against $checked long options of xfrmd"

# Field names: the string lists given to check_keys() and the field arrays.
fields=$(cat "$XFRMCTL_REPO"/src/model/*.cpp "$XFRMCTL_REPO"/src/model/*.hpp |
    tr '\n' ' ' |
    grep -oE 'check_keys\([^;]*\{[^}]*\}|k[A-Za-z0-9]*Fields = \{[^}]*\}' |
    grep -oE '\{[^}]*\}' | grep -oE '"[a-z_]+"' | tr -d '"' | sort -u)
count=0
for field in $fields; do
    grep -qE "(Cm|Dq|Li) $field\b|\"$field\":" "$man/xfrmctl.json.5" || missing "xfrmctl.json.5 lacks the field \"$field\""
    count=$((count + 1))
done
[ "$count" -gt 60 ] || missing "only $count fields found in src/model: is the source parsed right?"
echo "checked: xfrmctl.json.5 against $count fields the reader accepts"
[ "$failed" = 0 ] && echo "PASS: the man pages name every option and field"
exit "$failed"
