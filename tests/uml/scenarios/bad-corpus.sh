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

for dir in "$corpus"/*/; do
    name=$(basename "$dir")
    stage "$name"
    { read -r file; read -r path; read -r message; } < "$WORK/case/expect"
    config=tunnels.json
    [ -f "$WORK/case/config" ] && config=$(cat "$WORK/case/config")
    run() { in_ns west "$XFRMCTL" -c "$WORK/case/$config" --state-dir "$WORK/west/state" "$@"; }
    for command in validate apply "apply --json"; do
        set +e
        run $command > "$WORK/stdout" 2> "$WORK/stderr"
        rc=$?
        set -e
        [ "$rc" = 1 ] || fail "$name: $command: exit $rc, expected 1: $(cat "$WORK/stderr")"
        [ "$(wc -l < "$WORK/stderr")" = 1 ] || fail "$name: $command: expected one line on stderr, got: $(cat "$WORK/stderr")"
        grep -qF "$WORK/case/$file: $path: " "$WORK/stderr" || fail "$name: $command: no '$file: $path' in: $(cat "$WORK/stderr")"
        grep -qF "$message" "$WORK/stderr" || fail "$name: $command: no '$message' in: $(cat "$WORK/stderr")"
        if [ "$command" = "apply --json" ]; then
            [ "$(jq -r .changed "$WORK/stdout")" = false ] || fail "$name: --json: changed is not false"
            jq -r .error "$WORK/stdout" | grep -qF "$path: " || fail "$name: --json: no path in the error"
        fi
    done
    [ "$(tables west)" = "$before" ] || fail "$name: the kernel changed"
    pass "$name: $(cat "$WORK/stderr" | sed "s|$WORK/case/||")"
    count=$((count + 1))
done
expect_gt "$count" 29 "bad definitions tried"

log "no such definitions path"
expect_rc 1 "a missing -c path" ip netns exec west "$XFRMCTL" -c "$WORK/nowhere" --state-dir "$WORK/west/state" apply
expect_contains "$OUT" "$WORK/nowhere: no such file or directory" "names the path"
expect_eq "$(tables west)" "$before" "the kernel unchanged"
expect_rc 0 "the good tunnel is still up" xctl west plan
