#!/bin/bash
# Every bad definition of tests/corpus/bad, given to `xfrmctl apply` on a
# host whose tunnel is up: exit status 1, one message on stderr naming the
# file, the JSON path and what is wrong, the same in the --json document,
# and the kernel exactly as it was. (Had apply gone ahead with a bad
# definition, it would have removed the tunnel that is up.)
. "$XFRMCTL_REPO/tests/uml/lib.sh"
two_hosts
pair up tunnel esp '"aes256gcm16"' 0xe000 4 yes
expect_rc 0 "apply a good tunnel first" xctl west apply
before=$(tables west)
corpus=$XFRMCTL_REPO/tests/corpus/bad
count=0

stage() { # CASE -> $WORK/case, with key modes as in tests/unit/corpus.cpp
    rm -rf "$WORK/case"
    cp -a "$corpus/$1" "$WORK/case"
    find "$WORK/case/keys" -type f -exec chmod 600 {} +
    if [ -f "$WORK/case/modes" ]; then
        while read -r file mode; do chmod "$mode" "$WORK/case/$file"; done < "$WORK/case/modes"
    fi
}

# Each case's checks use bash's own string tests: in UML every process
# started costs a tenth of a second or more.
check_case() { # NAME COMMAND...: exit 1, one line on stderr with file, path and message
    local name=$1 rc
    shift
    set +e
    "$@" > "$WORK/stdout" 2> "$WORK/stderr"
    rc=$?
    set -e
    local err
    err=$(< "$WORK/stderr")
    [ "$rc" = 1 ] || fail "$name: $*: exit $rc, expected 1: $err"
    [[ $err != *$'\n'* ]] || fail "$name: $*: expected one line on stderr, got: $err"
    [[ $err == *"$WORK/case/$file: $path: "* ]] || fail "$name: no '$file: $path' in: $err"
    [[ $err == *"$message"* ]] || fail "$name: no '$message' in: $err"
}

for dir in "$corpus"/*/; do
    name=$(basename "$dir")
    stage "$name"
    { read -r file; read -r path; read -r message; } < "$WORK/case/expect"
    config=tunnels.json
    [ -f "$WORK/case/config" ] && config=$(< "$WORK/case/config")
    run=(in_ns west "$XFRMCTL" -c "$WORK/case/$config" --state-dir "$WORK/west/state")
    check_case "$name" "${run[@]}" validate
    check_case "$name" "${run[@]}" --json apply
    json=$(< "$WORK/stdout")
    [[ $json == *'"changed": false'* && $json == *"\"error\": \"$WORK/case/$file: $path: "* ]] ||
        fail "$name: --json: no error naming '$path' with changed false in: $json"
    [ "$(tables west)" = "$before" ] || fail "$name: the kernel changed"
    pass "$name: $(sed "s|$WORK/case/||" "$WORK/stderr")"
    count=$((count + 1))
done
expect_gt "$count" 29 "bad definitions tried"

log "no such definitions path"
expect_rc 1 "a missing -c path" ip netns exec west "$XFRMCTL" -c "$WORK/nowhere" --state-dir "$WORK/west/state" apply
expect_contains "$OUT" "$WORK/nowhere: no such file or directory" "names the path"
expect_eq "$(tables west)" "$before" "the kernel unchanged"
expect_rc 0 "the good tunnel is still up" xctl west plan
