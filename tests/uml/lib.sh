# Helpers for real-kernel scenarios; sourced by tests/uml/scenarios/*.sh,
# which run inside the UML guest (tests/uml/run) as root.
#
# Topology made by two_hosts (all three are network namespaces):
#   west: wan 192.0.2.1/24 2001:db8::1/64   lan (dummy) 10.1.0.1/24 2001:db8:1::1/64
#   east: wan 192.0.2.2/24 2001:db8::2/64   lan (dummy) 10.2.0.1/24 2001:db8:2::1/64
#   wire: a bridge "br0" joining the two wans; captures are taken there, so
#         they show what is on the wire and nothing a host's kernel
#         re-injects after decrypting (which AF_PACKET on a host would see).
# with routes to the other side's lan through its wan address.
set -euo pipefail

: "${XFRMCTL:?path to the xfrmctl binary}"
: "${XFRMCTL_REPO:?path to the repository}"
WORK=$(mktemp -d /run/tmp/work.XXXXXX)
PATTERN=58464d43544c2d5345435245542d2d21 # "XFMCTL-SECRET--!" in ping payloads
FAILED=0

# Each step says when it started, in seconds since the scenario began: a
# scenario's slow part shows in its output.
SCENARIO_START=${EPOCHREALTIME/./}
log() {
    local tenths=$(( (${EPOCHREALTIME/./} - SCENARIO_START) / 100000 ))
    printf '== [%4d.%ds] %s\n' $((tenths / 10)) $((tenths % 10)) "$*"
}
# nap SECONDS: sleep(1) without starting a process. In a UML guest every
# process started costs 25-100 ms of CPU, and a poll that ran `sleep` and
# `date` ten or a hundred times a second kept a guest busy by itself; the
# clocks are bash's too ($EPOCHSECONDS, $EPOCHREALTIME). read -t waits on
# a pipe that we hold open for writing and nobody writes to.
exec {NAP_FD}<> <(:)
nap() { read -r -t "$1" -u "$NAP_FD" _ || true; }
pass() { echo "PASS: $*"; }
fail() {
    echo "FAIL: $*"
    failure_logs
    exit 1
}
# failure_logs: the last lines of every log the scenario's programs wrote
# (xfrmd, charon), so that a failure in CI says why: xfrmd's first, the
# shortest and the most telling, as CI's report may keep only the start.
# guest-init scans this output for the test keys like everything else.
failure_logs() {
    local f
    for f in $(find "$WORK" -name '*.log' -size +0 2>/dev/null | sort | awk '{print (/xfrmd/ ? 0 : 1) "\t" $0}' | sort | cut -f2); do
        echo "--- ${f#"$WORK"/} (last 40 lines)"
        tail -40 "$f" | cut -c1-300
    done
}
expect_eq() { [ "$1" = "$2" ] && pass "$3" || fail "$3: expected '$2', got '$1'"; }
expect_ne() { [ "$1" != "$2" ] && pass "$3" || fail "$3: did not expect '$2'"; }
expect_gt() { [ "$1" -gt "$2" ] && pass "$3 ($1 > $2)" || fail "$3: expected more than $2, got $1"; }
expect_contains() { [[ $1 == *"$2"* ]] && pass "$3" || fail "$3: '$2' not found in: $1"; }
expect_not_contains() { [[ $1 != *"$2"* ]] && pass "$3" || fail "$3: '$2' found in: $1"; }

# Runs a command, expects its exit status; its output goes to $OUT.
expect_rc() {
    local want=$1 what=$2
    shift 2
    set +e
    OUT=$("$@" 2>&1)
    local rc=$?
    set -e
    [ "$rc" = "$want" ] && pass "$what (exit $rc)" || fail "$what: expected exit $want, got $rc; output: $OUT"
}

host_setup() { # ns wan4 wan6 lan4 lan6 peer4 peer6 peerlan4 peerlan6
    local ns=$1
    ip -n "$ns" link set lo up
    ip -n "$ns" addr add "$2/24" dev wan
    ip -n "$ns" addr add "$3/64" dev wan nodad
    ip -n "$ns" link set wan up
    ip -n "$ns" link add lan type dummy
    ip -n "$ns" addr add "$4/24" dev lan
    ip -n "$ns" addr add "$5/64" dev lan nodad
    ip -n "$ns" link set lan up
    ip -n "$ns" route add "$8" via "$6"
    ip -n "$ns" -6 route add "$9" via "$7"
    ip netns exec "$ns" sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1
}

two_hosts() {
    ip netns add west
    ip netns add east
    ip netns add wire
    ip -n wire link add br0 type bridge
    ip -n wire link set br0 up
    for host in west east; do
        ip link add wan netns "$host" type veth peer name "$host" netns wire
        ip -n wire link set "$host" master br0 up
    done
    host_setup west 192.0.2.1 2001:db8::1 10.1.0.1 2001:db8:1::1 192.0.2.2 2001:db8::2 10.2.0.0/24 2001:db8:2::/64
    host_setup east 192.0.2.2 2001:db8::2 10.2.0.1 2001:db8:2::1 192.0.2.1 2001:db8::1 10.1.0.0/24 2001:db8:1::/64
    mkdir -p "$WORK/west" "$WORK/east"
}

# in_ns HOST COMMAND...: a command in the host's network namespace only
# (cheaper than ip netns exec, which also remounts /sys for each command).
in_ns() {
    local host=$1
    shift
    nsenter --net="/run/netns/$host" "$@"
}

# spawn HOST COMMAND...: in_ns in the background, with $! the command's own
# pid (so that signals reach it, not a subshell).
spawn() {
    local host=$1
    shift
    exec_in_ns() { exec nsenter --net="/run/netns/$host" "$@"; }
    exec_in_ns "$@" &
    disown $! # its end is nobody's business but the test's: no "Killed" notices
}

# wait_gone PID: until the process has ended.
wait_gone() { while kill -0 "$1" 2>/dev/null; do nap 0.05; done; }

# xctl HOST ARGS...: xfrmctl on that host, with its own state directory,
# its definitions in $WORK/HOST/defs and its daemon's socket (if one runs,
# xfrmctl hands apply, down and status to it).
xctl() {
    local host=$1
    shift
    in_ns "$host" "$XFRMCTL" -c "$WORK/$host/defs" --state-dir "$WORK/$host/state" \
        --socket "$WORK/$host/run/xfrmd.sock" "$@"
}

# new_key FILE BYTES: random key material in hex, mode 0600.
new_key() {
    mkdir -p "$(dirname "$1")"
    openssl rand -hex "$2" > "$1"
    chmod 600 "$1"
    secrets_keep "$1"
}
# secrets_keep FILE...: remembers test keys (in the guest's memory) for the
# scans of secrets_scan and guest-init, even once the scenario deletes them.
secrets_keep() {
    mkdir -p -m 700 /run/secrets-seen
    local f
    for f in "$@"; do cp "$f" "/run/secrets-seen/$(sha256sum "$f" | cut -c1-16)"; done
}

# ping_ok HOST ARGS...: five pings carrying $PATTERN; all must be answered.
ping_ok() {
    local host=$1
    shift
    ip netns exec "$host" ping -q -c 5 -i 0.2 -W 2 -w 10 -p "$PATTERN" "$@" > "$WORK/ping.out" 2>&1 ||
        fail "ping $*: $(cat "$WORK/ping.out")"
    pass "ping $* answered"
}

capture_start() { # NAME [HOST [IFACE]]: by default the wire between the hosts
    local name=$1 host=${2:-wire} iface=${3:-br0}
    # A capture of the same name before this one left its log ("listening
    # on") and its packets: the background tcpdump below truncates them only
    # when it gets to run, and until then the wait below would take the old
    # log for the new capture's start, and the count the old packets (a ping
    # started before tcpdump listened: uml.ansible-mesh's third
    # protected_ping once captured 6 of its 10 ESP packets, none dropped).
    rm -f "$WORK/$name.log" "$WORK/$name.pcap"
    # The kernel keeps what tcpdump has not read yet in a ring of frames of
    # the snapshot length: with -s 0 (256 KiB) and immediate mode that ring
    # held 32 packets in Debian's UML kernel, and a tcpdump not scheduled
    # for a moment on a loaded machine lost the rest ("dropped by kernel":
    # uml.ansible-mesh's missing pings). 2 KiB covers a whole packet on
    # these 1500-byte links; 16 MiB holds about 8,000 of them.
    ip netns exec "$host" tcpdump -Z root --immediate-mode -i "$iface" -n -U -s 2048 -B 16384 \
        -w "$WORK/$name.pcap" > "$WORK/$name.log" 2>&1 &
    echo $! > "$WORK/$name.pid"
    for _ in $(seq 50); do
        grep -q "listening on" "$WORK/$name.log" 2>/dev/null && return 0
        nap 0.1
    done
    fail "tcpdump did not start: $(cat "$WORK/$name.log")"
}

# tcpdump writes what the kernel queued for it when it next runs, and
# SIGINT stops it without reading the rest: on a loaded machine (the CI's
# sanitizer run once lost the last ping's two packets) it is stopped only
# once its file has stopped growing.
capture_stop() {
    local file=$WORK/$1.pcap size=-1 now
    nap 0.5
    for _ in $(seq 20); do
        now=$(stat -c %s "$file" 2>/dev/null || echo 0)
        [ "$now" = "$size" ] && break
        size=$now
        nap 0.25
    done
    kill -INT "$(cat "$WORK/$1.pid")" 2>/dev/null || true
    wait "$(cat "$WORK/$1.pid")" 2>/dev/null || true
    # A capture that lost packets proves nothing about the wire.
    local dropped
    dropped=$(sed -n 's/^\([0-9]*\) packets\{0,1\} dropped by kernel$/\1/p' "$WORK/$1.log")
    [ "${dropped:-0}" = 0 ] || fail "the capture $1 lost $dropped packets (tcpdump fell behind the kernel's ring)"
}

# capture_wait NAME FILTER N: until the running capture holds N packets
# that match (at most 5 s): tcpdump writes them when it next runs.
capture_wait() {
    for _ in $(seq 20); do
        [ "$(capture_count "$1" "$2")" -ge "$3" ] && return 0
        nap 0.25
    done
}

# capture_count NAME FILTER: packets in the capture that match a pcap filter.
capture_count() { tcpdump -n -r "$WORK/$1.pcap" "$2" 2>/dev/null | wc -l; }
capture_text() { tcpdump -n -v -r "$WORK/$1.pcap" 2>/dev/null; }

# capture_has_pattern NAME: 1 if the ping payload appears in clear anywhere.
capture_has_pattern() {
    if od -An -tx1 -v "$WORK/$1.pcap" | tr -d ' \n' | grep -q "$PATTERN"; then echo 1; else echo 0; fi
}

# sa_counter HOST SPI bytes|packets: from iproute2, a second opinion.
sa_counter() {
    local out
    out=$(ip -n "$1" -s xfrm state list spi "$2")
    [ -n "$out" ] || { echo 0; return; }
    echo "$out" | awk -v want="$3" '/lifetime current:/ { getline; gsub(/[(),]/, " "); 
        if (want == "bytes") print $1; else print $3; exit }'
}

# Both kernels' XFRM tables, for "nothing changed" comparisons.
tables() { ip -n "$1" xfrm state list; ip -n "$1" xfrm policy list; }
# entries HOST: the same without what traffic changes (sequence numbers)
# and without key material.
entries() {
    tables "$1" | grep -v -e 'seq' -e '^	 ' | sed -E 's/^(	(aead|enc|auth|auth-trunc) [^ ]+) 0x[0-9a-f]+/\1 <key>/'
}

# ip xfrm monitor on a host, to prove that a command made no kernel write
# (SAs and policies: counters and replay state change with traffic).
monitor_start() {
    ip netns exec "$1" ip xfrm monitor SA policy > "$WORK/monitor.$1" 2>&1 &
    echo $! > "$WORK/monitor.$1.pid"
    nap 0.5
}
monitor_stop() {
    nap 0.5
    kill "$(cat "$WORK/monitor.$1.pid")" 2>/dev/null || true
    wait "$(cat "$WORK/monitor.$1.pid")" 2>/dev/null || true
    cat "$WORK/monitor.$1"
}

# json_get JSON EXPR: one value out of a JSON document.
json_get() { printf '%s' "$1" | jq -r "$2"; }

# write_defs HOST FILE JSON: a definition file on a host.
write_defs() {
    mkdir -p "$WORK/$1/defs"
    printf '%s\n' "$3" > "$WORK/$1/defs/$2"
}

# tunnel_keys NAME PROTOCOL PROPOSAL: fresh keys for both directions, named
# $WORK/keys/NAME.PROTO.w2e (west to east) and .e2w, sized for the proposal.
key_bytes() {
    case $1 in
    aes128gcm16) echo 20 ;; aes256gcm16 | chacha20poly1305) echo 36 ;;
    aes128-sha256) echo 48 ;; aes256-sha256) echo 64 ;; aes256-sha512) echo 96 ;;
    sha256) echo 32 ;; sha384) echo 48 ;; sha512) echo 64 ;;
    esac
}
tunnel_keys() {
    local name=$1 protocol=$2 proposal=$3
    if [ "$protocol" = "ah+esp" ]; then
        local ah esp
        ah=$(echo "$proposal" | jq -r .ah)
        esp=$(echo "$proposal" | jq -r .esp)
        tunnel_keys "$name" ah "$ah"
        tunnel_keys "$name" esp "$esp"
        return
    fi
    new_key "$WORK/keys/$name.$protocol.w2e" "$(key_bytes "$proposal")"
    new_key "$WORK/keys/$name.$protocol.e2w" "$(key_bytes "$proposal")"
}

# One direction's keying: {spi, key_file}, or {ah: ..., esp: ...} for a bundle.
# SPIs: BASE+1 west to east, BASE+2 east to west (AH adds 0x100).
direction_json() {
    local name=$1 protocol=$2 base=$3 dir=$4
    local n=1 spi_ah spi_esp
    [ "$dir" = e2w ] && n=2
    spi_esp=$(printf '0x%x' $((base + n)))
    spi_ah=$(printf '0x%x' $((base + 0x100 + n)))
    case $protocol in
    esp) echo "{\"spi\": \"$spi_esp\", \"key_file\": \"$WORK/keys/$name.esp.$dir\"}" ;;
    ah) echo "{\"spi\": \"$spi_ah\", \"key_file\": \"$WORK/keys/$name.ah.$dir\"}" ;;
    ah+esp) echo "{\"ah\": $(direction_json "$name" ah "$base" "$dir"), \"esp\": $(direction_json "$name" esp "$base" "$dir")}" ;;
    esac
}

# tunnel_json HOST NAME MODE PROTOCOL PROPOSAL SPI_BASE LOCAL REMOTE LSUBNETS RSUBNETS
# One tunnel's definition as seen from HOST (west or east). PROPOSAL is JSON
# (a string in quotes, or an object for ah+esp); subnets are JSON arrays or
# "" to leave them out. Keys come from tunnel_keys.
tunnel_json() {
    local host=$1 name=$2 mode=$3 protocol=$4 proposal=$5 base=$6 local_addr=$7 remote_addr=$8 lsub=${9:-} rsub=${10:-}
    local out=w2e in=e2w
    [ "$host" = east ] && out=e2w in=w2e
    local lsubnets="" rsubnets=""
    [ -n "$lsub" ] && lsubnets=", \"subnets\": $lsub"
    [ -n "$rsub" ] && rsubnets=", \"subnets\": $rsub"
    cat <<JSON
{ "version": 1,
  "tunnels": { "$name": {
    "mode": "$mode", "protocol": "$protocol", "proposal": $proposal,
    "local":  { "address": "$local_addr"$lsubnets },
    "remote": { "address": "$remote_addr"$rsubnets },
    "keying": { "method": "manual",
      "outbound": $(direction_json "$name" "$protocol" "$base" "$out"),
      "inbound":  $(direction_json "$name" "$protocol" "$base" "$in") } } } }
JSON
}

# pair NAME MODE PROTOCOL PROPOSAL SPI_BASE FAMILY [SUBNETS]: the same tunnel
# on both hosts (family 4 or 6; SUBNETS "yes" for the lans, else host to
# host), with fresh keys.
pair() {
    local name=$1 mode=$2 protocol=$3 proposal=$4 base=$5 family=$6 subnets=${7:-}
    local w=192.0.2.1 e=192.0.2.2 wl='["10.1.0.0/24"]' el='["10.2.0.0/24"]'
    if [ "$family" = 6 ]; then w=2001:db8::1 e=2001:db8::2 wl='["2001:db8:1::/64"]' el='["2001:db8:2::/64"]'; fi
    [ "$subnets" = yes ] || wl="" el=""
    tunnel_keys "$name" "$protocol" "$(echo "$proposal" | jq -r 'if type == "string" then . else tojson end')"
    write_defs west "$name.json" "$(tunnel_json west "$name" "$mode" "$protocol" "$proposal" "$base" "$w" "$e" "$wl" "$el")"
    write_defs east "$name.json" "$(tunnel_json east "$name" "$mode" "$protocol" "$proposal" "$base" "$e" "$w" "$el" "$wl")"
}

# ECHO4/ECHO6: pcap filters for bare (unprotected) ping packets.
# xfrm_counts NS: "SAs policies" (every direction), from the kernel's own
# counters.
xfrm_counts() {
    { ip -n "$1" xfrm state count; ip -n "$1" xfrm policy count; } |
        awk '/SAD count/ { sas = $3 } /SPD IN/ { policies = $3 + $5 + $7 } END { print sas, policies }'
}
# kernel_entries NS: each SA and policy on one line, sorted, without keys,
# indexes, counters and reqids (each state directory numbers its tunnels):
# for comparing what two namespaces hold.
kernel_entries() {
    { ip -n "$1" xfrm state list; ip -n "$1" xfrm policy list; } |
        awk '/^src / && entry { print entry; entry = "" } { sub(/^[ \t]+/, ""); entry = entry " " $0 } END { print entry }' |
        grep -vE '^ *$' | sed -E 's/ (aead|enc|auth-trunc) [^ ]+ 0x[0-9a-f]+/ \1 KEY/; s/reqid [0-9]+/reqid R/g;
            s/ (index|seq|replay|bitmap|lifetime|anti-replay|stats|current|hard|soft|add|use|expire)[^ ]*( [^ ]+)?//g' | sort
}
ECHO4='icmp[icmptype] == icmp-echo or icmp[icmptype] == icmp-echoreply'
ECHO6='icmp6 and (ip6[40] == 128 or ip6[40] == 129)'

# protected_ping PROTO HOST PING_ARGS...: five pings through the tunnel; the
# wire shows PROTO (esp, ah, or esp-in-udp) for each of the ten packets and
# no bare echo; with ESP the payload never appears in clear.
protected_ping() {
    local proto=$1 host=$2 filter
    shift 2
    case $proto in
    esp) filter='esp or (ip6 and ip6[6] == 50)' ;;
    ah) filter='ah or (ip6 and ip6[6] == 51)' ;;
    esp-in-udp) filter='udp port 4500' ;;
    esac
    capture_start protected
    ping_ok "$host" "$@"
    capture_wait protected "$filter" 10
    capture_stop protected
    # Shown by failure_logs if the count falls short: what the wire held,
    # what ping saw, and what the sender's SAs counted.
    if [ "$(capture_count protected "$filter")" -lt 10 ]; then
        { echo "capture:"; tcpdump -n -tt -r "$WORK/protected.pcap" 2>&1 | head -30
          echo "ping:"; cat "$WORK/ping.out"
          echo "$host's SAs:"; ip -n "$host" -s xfrm state | grep -E '^src|spi|packets|lifetime current' -A1 | head -60
        } > "$WORK/capture-short.log"
    fi
    expect_eq "$(capture_count protected "$ECHO4")" 0 "no bare IPv4 echo on the wire"
    expect_eq "$(capture_count protected "$ECHO6")" 0 "no bare IPv6 echo on the wire"
    expect_gt "$(capture_count protected "$filter")" 9 "every ping on the wire is $proto"
    if [ "$proto" != ah ]; then
        expect_eq "$(capture_has_pattern protected)" 0 "the payload never crosses in clear"
    fi
}

# dropped_ping HOST PING_ARGS...: three pings that must get no answer, and
# whose packets never cross in clear (nor their payload).
dropped_ping() {
    local host=$1
    shift
    capture_start dropped
    set +e
    in_ns "$host" ping -q -c 3 -i 0.2 -W 1 -p "$PATTERN" "$@" > /dev/null 2>&1
    local rc=$?
    set -e
    capture_stop dropped
    expect_ne "$rc" 0 "no answer to ping $*"
    expect_eq "$(capture_count dropped "$ECHO4")" 0 "no clear echo on the wire"
    expect_eq "$(capture_has_pattern dropped)" 0 "the payload never crosses"
}

# counters_rise HOST SPI...: each SA has carried bytes (ip xfrm's view).
counters_rise() {
    local host=$1
    shift
    for spi in "$@"; do
        expect_gt "$(sa_counter "$host" "$spi" bytes)" 0 "$host SA $spi carried bytes"
    done
}

# amend HOST FILE JQ: edits a definition file with a jq expression.
amend() {
    local file="$WORK/$1/defs/$2"
    jq "$3" "$file" > "$file.new" && mv "$file.new" "$file"
}

# nat_hosts: west behind a masquerading NAT, east on the wire with the NAT's
# public side (captures on the wire see the NATed traffic).
#   west 192.168.1.2 (lan 10.1.0.1) -- nat 192.168.1.1 | 203.0.113.1 -- [wire] -- east 203.0.113.2 (lan 10.2.0.1)
# The masquerade is an nftables inet nat chain, as on a current Debian
# router (the test kernel has NF_TABLES_INET, NFT_NAT and NFT_MASQ).
nat_hosts() {
    for ns in west nat east wire; do
        ip netns add $ns
        ip -n $ns link set lo up
    done
    ip -n wire link add br0 type bridge && ip -n wire link set br0 up
    ip link add wan netns west type veth peer name inside netns nat
    ip link add public netns nat type veth peer name nat netns wire
    ip link add wan netns east type veth peer name east netns wire
    for port in nat east; do ip -n wire link set $port master br0 up; done
    ip -n west addr add 192.168.1.2/24 dev wan && ip -n west link set wan up
    ip -n west route add default via 192.168.1.1
    ip -n west link add lan type dummy && ip -n west addr add 10.1.0.1/24 dev lan && ip -n west link set lan up
    ip -n nat addr add 192.168.1.1/24 dev inside && ip -n nat link set inside up
    ip -n nat addr add 203.0.113.1/24 dev public && ip -n nat link set public up
    ip netns exec nat sysctl -qw net.ipv4.ip_forward=1
    ip -n east addr add 203.0.113.2/24 dev wan && ip -n east link set wan up
    ip -n east link add lan type dummy && ip -n east addr add 10.2.0.1/24 dev lan && ip -n east link set lan up
    ip -n east route add 10.1.0.0/24 via 203.0.113.1
    in_ns nat nft -f - <<'NFT'
table inet nat {
    chain postrouting {
        type nat hook postrouting priority srcnat; policy accept;
        oifname "public" masquerade
    }
}
NFT
    mkdir -p "$WORK/west" "$WORK/east"
}

# star_hosts: hub 192.0.2.1 (lan 10.1.0.1), spoke-a 192.0.2.2 (lan 10.2.0.1)
# and spoke-b 192.0.2.3 (lan 10.3.0.1) on one wire; no routes between the
# lans (route-based tunnels bring them).
star_hosts() {
    ip netns add wire
    ip -n wire link add br0 type bridge && ip -n wire link set br0 up
    local i=1
    for host in hub spoke-a spoke-b; do
        ip netns add $host
        ip -n $host link set lo up
        ip link add wan netns $host type veth peer name $host netns wire
        ip -n wire link set $host master br0 up
        ip -n $host addr add 192.0.2.$i/24 dev wan && ip -n $host link set wan up
        ip -n $host link add lan type dummy && ip -n $host addr add 10.$i.0.1/24 dev lan && ip -n $host link set lan up
        ip netns exec $host sysctl -qw net.ipv4.ip_forward=1
        mkdir -p "$WORK/$host"
        i=$((i + 1))
    done
}

# Key generations (manual keying, make-before-break). generation_keys
# NAME GEN makes a generation's keys (aes256gcm16); generation_json HOST
# NAME GEN SPI_BASE SEND is its entry in "generations" as HOST sees it.
generation_keys() {
    new_key "$WORK/keys/$1.$2.w2e" 36
    new_key "$WORK/keys/$1.$2.e2w" 36
}
generation_json() {
    local host=$1 name=$2 gen=$3 base=$4 send=$5 out=w2e in=e2w
    local w2e e2w
    w2e=$(printf '0x%x' $((base + 1)))
    e2w=$(printf '0x%x' $((base + 2)))
    if [ "$host" = west ]; then
        echo "{\"name\": \"$gen\", \"send\": $send, \"outbound\": {\"spi\": \"$w2e\", \"key_file\": \"$WORK/keys/$name.$gen.w2e\"}, \"inbound\": {\"spi\": \"$e2w\", \"key_file\": \"$WORK/keys/$name.$gen.e2w\"}}"
    else
        echo "{\"name\": \"$gen\", \"send\": $send, \"outbound\": {\"spi\": \"$e2w\", \"key_file\": \"$WORK/keys/$name.$gen.e2w\"}, \"inbound\": {\"spi\": \"$w2e\", \"key_file\": \"$WORK/keys/$name.$gen.w2e\"}}"
    fi
}

# rolling_defs HOST NAME GRACE GENERATION_JSON...: a lan-to-lan ESP tunnel
# (IPv4) keyed by the given generations, oldest first.
rolling_defs() {
    local host=$1 name=$2 grace=$3 local_addr=192.0.2.1 remote_addr=192.0.2.2 lsub=10.1.0.0/24 rsub=10.2.0.0/24
    shift 3
    if [ "$host" = east ]; then local_addr=192.0.2.2 remote_addr=192.0.2.1 lsub=10.2.0.0/24 rsub=10.1.0.0/24; fi
    local generations
    generations=$(printf '%s\n' "$@" | jq -s -c .)
    write_defs "$host" "$name.json" "$(jq -n --arg name "$name" --arg l "$local_addr" --arg r "$remote_addr" \
        --arg ls "$lsub" --arg rs "$rsub" --argjson grace "$grace" --argjson g "$generations" \
        '{version: 1, tunnels: {($name): {mode: "tunnel", protocol: "esp", proposal: "aes256gcm16",
          local: {address: $l, subnets: [$ls]}, remote: {address: $r, subnets: [$rs]},
          keying: {method: "manual", grace: $grace, generations: $g}}}}')"
}

# xfrmd_readies LOG: how many times a daemon logging there became ready.
xfrmd_readies() {
    local n
    n=$(grep -c '^<6>xfrmd: ready: ' "$1" 2>/dev/null || true)
    echo "${n:-0}"
}
# xfrmd_start HOST [ARGS...]: the daemon on a host, as xctl's peer (its
# stderr in $WORK/HOST/xfrmd.log); returns once it answers on its socket.
# $XFRMD_PREFIX, if set, is a command to run it under (e.g. setpriv).
xfrmd_start() {
    local host=$1 log=$WORK/$1/xfrmd.log readies
    shift
    # Ready is this daemon's "ready:" line: the socket of one killed before
    # it is still there, and xctl would answer without any daemon.
    readies=$(xfrmd_readies "$log")
    spawn "$host" ${XFRMD_PREFIX:-} "$XFRMD" -c "$WORK/$host/defs" --state-dir "$WORK/$host/state" \
        --socket "$WORK/$host/run/xfrmd.sock" "$@" >> "$log" 2>&1
    echo $! > "$WORK/$host/xfrmd.pid"
    for _ in $(seq 100); do
        if [ "$(xfrmd_readies "$log")" -gt "$readies" ]; then
            xctl "$host" status > /dev/null 2>&1 && return 0
            [ $? -eq 3 ] && return 0 # answering, with a tunnel not up
        fi
        kill -0 "$(cat "$WORK/$host/xfrmd.pid")" 2>/dev/null || break
        nap 0.1
    done
    fail "xfrmd on $host did not start: $(cat "$WORK/$host/xfrmd.log")"
}

# with_unit_capabilities: later daemons run with only the capabilities that
# packaging/xfrmd.service leaves them (its CapabilityBoundingSet).
with_unit_capabilities() {
    local caps
    caps=$(sed -n 's/^CapabilityBoundingSet=//p' "$XFRMCTL_REPO/packaging/xfrmd.service" |
        tr 'A-Z ' 'a-z,' | sed 's/cap_/+/g')
    XFRMD_PREFIX="setpriv --no-new-privs --bounding-set=-all,$caps --inh-caps=-all"
}

# xfrmd_stop HOST [SIGNAL]: stops the daemon (TERM, or e.g. KILL) and waits;
# it must have been running until then.
xfrmd_stop() {
    local pid
    pid=$(cat "$WORK/$1/xfrmd.pid")
    kill -0 "$pid" 2>/dev/null || fail "xfrmd on $1 died before it was stopped: $(tail -5 "$WORK/$1/xfrmd.log")"
    kill "-${2:-TERM}" "$pid" 2>/dev/null || true
    wait_gone "$pid"
}

# events HOST KIND: the daemon's events of one kind (JSON lines).
events() { jq -c --arg kind "$2" 'select(.event == $kind)' "$WORK/$1/state/events.jsonl" 2>/dev/null || true; }

# sa_absent HOST SPI: true once the host's kernel has no SA with that SPI.
sa_absent() { [ -z "$(ip -n "$1" xfrm state list spi "$2")" ]; }

# wait_for SECONDS COMMAND...: until the command succeeds; 1 on timeout.
wait_for() {
    local deadline=$(($EPOCHSECONDS + $1))
    shift
    until "$@" > /dev/null 2>&1; do
        [ "$EPOCHSECONDS" -lt "$deadline" ] || return 1
        nap 0.1
    done
}

# flow_start NAME FROM TO SOURCE DESTINATION RATE: numbered UDP datagrams
# from host FROM to host TO (port 5001 + a hash), RATE a second, counted
# by a receiver on TO; flow_stop NAME then checks that none was lost.
flow_start() {
    local name=$1 from=$2 to=$3 source=$4 destination=$5 rate=$6 port
    port=$((5001 + $(printf '%s' "$name" | cksum | cut -d' ' -f1) % 1000))
    # Without it every flow is silently empty, and a scenario fails much
    # later for want of traffic (a key generation never retired).
    [ -x "${FLOW:-}" ] || fail "FLOW=${FLOW:-} is not the flow program (tests/flow in the build tree)"
    spawn "$to" "$FLOW" receive "$destination" "$port" > "$WORK/flow.$name.received"
    echo $! > "$WORK/flow.$name.receiver"
    nap 0.2
    spawn "$from" "$FLOW" send "$source" "$destination" "$port" "$rate" > "$WORK/flow.$name.sent"
    echo $! > "$WORK/flow.$name.sender"
}
# loss_counters: where datagrams can be dropped on their way, each host's
# nonzero XFRM, IP, UDP, link and neighbour drop counters and the wire's
# queues, printed when a flow lost some (a loss once showed in none of the
# XFRM, UDP and qdisc counters: the others are where a datagram can still
# vanish).
loss_counters() {
    local ns
    for ns in $(ip netns list | cut -d' ' -f1); do
        echo "--- $ns: nonzero drop counters"
        in_ns "$ns" awk '$2 != 0' /proc/net/xfrm_stat
        in_ns "$ns" awk '/^(Ip|Udp):/ { if (!h[$1]) { split($0, n); h[$1] = 1 } else for (i = 2; i <= NF; i++)
            if (n[i] ~ /Err|Discards|NoRoutes|Fails/ && $i != 0) print $1, n[i], $i }' /proc/net/snmp
        in_ns "$ns" awk 'NR > 2 { sub(/:/, " "); if ($4 + $5 + $12 + $13 > 0) print "link", $1, "rx errors", $4, "dropped", $5, "tx errors", $12, "dropped", $13 }' /proc/net/dev
        in_ns "$ns" tc -s qdisc show | grep -B2 'dropped [1-9]' || true
    done
    # The neighbour table is one for all namespaces; its counters are in hex.
    echo "--- neighbour table: nonzero discards and failures"
    awk 'NR == 1 { split($0, n) } NR > 1 { for (i = 1; i <= NF; i++) if (n[i] ~ /discards|failed/ && $i !~ /^0+$/) print "arp_cache", n[i], "0x" $i }' /proc/net/stat/arp_cache 2>/dev/null || true
}
flow_stop() {
    local name=$1
    kill "$(cat "$WORK/flow.$name.sender")"
    wait_gone "$(cat "$WORK/flow.$name.sender")"
    nap 1 # the last datagrams arrive
    kill "$(cat "$WORK/flow.$name.receiver")"
    wait_gone "$(cat "$WORK/flow.$name.receiver")"
    local sent received
    sent=$(jq .sent "$WORK/flow.$name.sent")
    received=$(cat "$WORK/flow.$name.received")
    log "flow $name: sent $sent ($(jq .send_errors "$WORK/flow.$name.sent") refused by the sender's kernel), received $received"
    expect_gt "$sent" 0 "flow $name ran"
    [ "$(json_get "$received" .received)" = "$sent" ] || loss_counters
    expect_eq "$(json_get "$received" .received)" "$sent" "flow $name: every datagram sent was received"
    expect_eq "$(json_get "$received" .lost)" 0 "flow $name: none lost"
    expect_eq "$(json_get "$received" .duplicates)" 0 "flow $name: none twice"
}

# secrets_scan: no test key (hex or raw) in any file written under $WORK
# (outputs, logs, state, events); the keys are kept (in the guest's memory)
# for guest-init, which scans the scenario's whole output at its end.
secrets_scan() {
    local scan=$XFRMCTL_REPO/tests/uml/scan-secrets
    "$scan" collect "$WORK" /run/secrets-seen
    "$scan" scan /run/secrets-seen "$WORK" > "$WORK/.secrets-scan" || fail "$(cat "$WORK/.secrets-scan")"
    cat "$WORK/.secrets-scan"
}

# teardown: every namespace gone (and any daemon, flow or ESP-in-UDP holder
# stopped).
teardown() {
    pkill -f "hold-encap" 2>/dev/null || true
    [ -z "${XFRMD:-}" ] || pkill -f "$XFRMD" 2>/dev/null || true
    [ -z "${FLOW:-}" ] || pkill -f "$FLOW" 2>/dev/null || true
    pkill -f charon-systemd 2>/dev/null || true # xfrmd's own, which outlive it
    for ns in $(ip netns list | cut -d' ' -f1); do ip netns del "$ns"; done
    secrets_scan
    rm -rf "$WORK"/*
}
