# Helpers for the Ansible scenarios (tests/uml/scenarios/ansible-*.sh); sourced
# after lib.sh, inside the UML guest. The collection is used from the
# repository (packaging/ansible); everything Ansible writes goes under $WORK.

# ansible_setup HOST...: an inventory of the hosts, each "connected" locally
# but with a Python interpreter that runs in the host's network namespace,
# so that the modules (and the xfrmctl they run) work on that host's kernel
# tables. Sets $INVENTORY and the environment ansible-playbook needs.
ansible_setup() {
    command -v ansible-playbook > /dev/null || fail "ansible-playbook not found (apt-get install ansible-core)"
    # Python's multiprocessing (ansible's workers) needs /dev/shm, which the
    # guest's /dev (its own devtmpfs, in the guest's memory) lacks.
    if [ ! -d /dev/shm ]; then
        mkdir -p /dev/shm
        mount -t tmpfs -o mode=1777 shm /dev/shm
    fi
    export HOME="$WORK/home" ANSIBLE_LOCAL_TEMP="$WORK/ansible/local" ANSIBLE_REMOTE_TEMP="$WORK/ansible/remote"
    export ANSIBLE_COLLECTIONS_PATH="$XFRMCTL_REPO/packaging/ansible" ANSIBLE_COLLECTIONS_SCAN_SYS_PATH=false
    export ANSIBLE_NOCOLOR=1 ANSIBLE_RETRY_FILES_ENABLED=false ANSIBLE_GATHERING=explicit
    export ANSIBLE_PYTHON_INTERPRETER=auto_silent ANSIBLE_DEPRECATION_WARNINGS=false
    export ANSIBLE_FORKS=5 ANSIBLE_PIPELINING=true
    export LC_ALL=C.UTF-8 PYTHONDONTWRITEBYTECODE=1 # nothing written into the repository
    mkdir -p "$HOME" "$ANSIBLE_LOCAL_TEMP" "$ANSIBLE_REMOTE_TEMP"
    INVENTORY="$WORK/inventory.ini"
    : > "$INVENTORY"
    local host
    for host in "$@"; do
        printf '#!/bin/sh\nexec nsenter --net=/run/netns/%s /usr/bin/python3 -B "$@"\n' "$host" > "$WORK/python.$host"
        chmod 755 "$WORK/python.$host"
        echo "$host ansible_connection=local ansible_python_interpreter=$WORK/python.$host" >> "$INVENTORY"
    done
}

# play NAME EXPECTED_RC ANSIBLE_PLAYBOOK_ARGS...: one ansible-playbook run;
# its output in $WORK/NAME.out (and $OUT), its exit status checked.
play() {
    local name=$1 want=$2 rc start
    shift 2
    start=$EPOCHSECONDS
    set +e
    ansible-playbook -i "$INVENTORY" "$@" > "$WORK/$name.out" 2>&1
    rc=$?
    set -e
    OUT=$(cat "$WORK/$name.out")
    log "playbook $name: exit $rc in $(($EPOCHSECONDS - start))s"
    [ "$rc" = "$want" ] && pass "playbook $name exits $rc" ||
        fail "playbook $name: expected exit $want, got $rc; output: $(tail -40 "$WORK/$name.out")"
}

# recap NAME HOST FIELD: a number from the PLAY RECAP of a play's output
# (ok, changed, failed, ...).
recap() {
    sed -n "/^PLAY RECAP/,\$p" "$WORK/$1.out" | awk -v host="$2" -v field="$3" '
        $1 == host { for (i = 2; i <= NF; i++) { split($i, kv, "="); if (kv[1] == field) print kv[2] } }'
}
