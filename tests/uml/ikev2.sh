# shellcheck shell=bash
# IKEv2 tunnels keyed by xfrmd (keying.method "ikev2") on west, against a
# stock charon on east (tests/uml/strongswan.sh) that only the swanctl.conf
# written here configures. Sourced by tests/uml/scenarios/*.sh after lib.sh
# and strongswan.sh.
#
#   ike_addresses FAMILY        sets W E (outer addresses), WNET ENET (the
#                               lans) and WLAN ELAN (an address in each)
#                               for the two_hosts topology, family 4 or 6
#   ike_psk NAME [TEXT]         $WORK/keys/NAME.psk: TEXT, or 24 random bytes
#                               in base64, mode 600
#   ike_west NAME FAMILY MODE AUTH [JQ]
#                               west's definition $WORK/west/defs/NAME.json:
#                               one tunnel NAME (lan to lan for MODE tunnel,
#                               host to host for transport), AUTH psk (the
#                               key of ike_psk NAME) or x509 (make_pki's
#                               west, ids west.example and east.example);
#                               JQ edits its "keying" (e.g. '.start = "respond"')
#   ike_east NAME FAMILY MODE AUTH [IKE_PROPOSALS [ESP_PROPOSALS [PSK_NAME]]]
#                               east's whole swanctl.conf: connection NAME
#                               with child NAME, the mirror of ike_west's
#                               (proposals by default west's defaults; the
#                               PSK of ike_psk PSK_NAME, by default NAME),
#                               loaded with swanctl --load-all
#   ike_east_cert CERT          the certificate and key east presents
#                               (make_pki's east or untrusted-east)
#   west_charon_pid             the pid of the charon xfrmd runs on west
#   west_swanctl ARGS...        swanctl against that charon (read only!)
#   ike_reqid NAME              the tunnel's reqid, from xfrmctl's ledger
#   ike_tunnel NAME             its entry in xctl west --json status
#   ike_is_up NAME, ike_reason NAME, ike_wait_up NAME SECONDS
#   sa_reqids HOST / policy_reqids HOST
#                               "REQID MODE" for each ESP SA / each policy
#                               template in the host's kernel
#   ike_check_kernel NAME MODE [FAMILY]
#                               west's SAs carry the tunnel's reqid, and its
#                               policies are charon's (pinned to the SA in
#                               use) one ahead of xfrmctl's (the reqid only)
#   ike_pings FAMILY MODE       protected_ping each way
#   ike_check_gone NAME REQID SPI...
#                               nothing of a removed tunnel is left on west
#                               (by reqid) nor on east (by SPI)

: "${WORK:?source lib.sh first}"
IKE_DEFAULT_PROPOSAL=aes256gcm16-prfsha384-x25519
IKE_DEFAULT_ESP=aes256gcm16-x25519

ike_addresses() {
    if [ "$1" = 6 ]; then
        W=2001:db8::1 E=2001:db8::2 WNET=2001:db8:1::/64 ENET=2001:db8:2::/64 WLAN=2001:db8:1::1 ELAN=2001:db8:2::1
    else
        W=192.0.2.1 E=192.0.2.2 WNET=10.1.0.0/24 ENET=10.2.0.0/24 WLAN=10.1.0.1 ELAN=10.2.0.1
    fi
}

ike_psk() {
    local file="$WORK/keys/$1.psk"
    mkdir -p "$WORK/keys"
    if [ $# -gt 1 ]; then printf '%s\n' "$2" > "$file"; else head -c 24 /dev/urandom | base64 > "$file"; fi
    chmod 600 "$file"
}

ike_west() {
    local name=$1 family=$2 mode=$3 auth=$4 edit=${5:-.} keying
    ike_addresses "$family"
    if [ "$auth" = psk ]; then
        keying=$(jq -n --arg psk "$WORK/keys/$name.psk" '{method: "ikev2", psk_file: $psk}')
    else
        keying=$(jq -n --arg dir "$WORK/pki" '{method: "ikev2", certificate: "\($dir)/west.pem",
            private_key: "\($dir)/west.key", ca: "\($dir)/ca.pem", local_id: "west.example", remote_id: "east.example"}')
    fi
    keying=$(jq "$edit" <<< "$keying")
    write_defs west "$name.json" "$(jq -n --arg name "$name" --arg mode "$mode" --arg w "$W" --arg e "$E" \
        --arg wnet "$WNET" --arg enet "$ENET" --argjson keying "$keying" \
        '{version: 1, tunnels: {($name): ({mode: $mode, protocol: "esp", local: {address: $w}, remote: {address: $e},
           keying: $keying} | if $mode == "tunnel" then .local.subnets = [$wnet] | .remote.subnets = [$enet] else . end)}}')"
}

ike_east() {
    local name=$1 family=$2 mode=$3 auth=$4 proposals=${5:-$IKE_DEFAULT_PROPOSAL} esp=${6:-$IKE_DEFAULT_ESP} psk=${7:-$1}
    local lid rid ts="" creds="" secrets="" secret
    ike_addresses "$family"
    if [ "$auth" = psk ]; then
        lid=$E rid=$W
        # as xfrmctl.json(5) says: the PSK file's line as it is, quoted when text
        secret=$(cat "$WORK/keys/$psk.psk")
        case $secret in 0x* | 0s*) ;; *) secret="\"$secret\"" ;; esac
        secrets="ike-$name {
        id-west = $W
        id-east = $E
        secret = $secret
    }"
    else
        lid=east.example rid=west.example auth=pubkey
        creds="certs = east.pem"
    fi
    [ "$mode" = tunnel ] && ts="local_ts = $ENET
                remote_ts = $WNET"
    stock_conf east <<EOF
connections {
    $name {
        version = 2
        local_addrs = $E
        remote_addrs = $W
        proposals = $proposals
        local {
            auth = $auth
            id = $lid
            $creds
        }
        remote {
            auth = $auth
            id = $rid
            $([ "$auth" = pubkey ] && echo "cacerts = ca.pem")
        }
        children {
            $name {
                mode = $mode
                $ts
                esp_proposals = $esp
            }
        }
    }
}
secrets {
    $secrets
}
EOF
}

ike_east_cert() {
    cp "$WORK/pki/ca.pem" "$WORK/east/swanctl/x509ca/ca.pem"
    cp "$WORK/pki/$1.pem" "$WORK/east/swanctl/x509/east.pem"
    cp "$WORK/pki/$1.key" "$WORK/east/swanctl/private/east.key"
    chmod 600 "$WORK/east/swanctl/private/east.key"
}

# west_charon_pid: the charon xfrmd runs on west (by its STRONGSWAN_CONF).
west_charon_pid() {
    local pid
    for pid in $(pgrep -x charon-systemd); do
        if tr '\0' '\n' < "/proc/$pid/environ" 2>/dev/null | grep -qx "STRONGSWAN_CONF=$WORK/west/run/strongswan.conf"; then
            echo "$pid"
            return
        fi
    done
}

# west_swanctl ARGS...: swanctl against the charon xfrmd runs on west.
west_swanctl() {
    in_ns west env STRONGSWAN_CONF="$WORK/west/run/strongswan.conf" swanctl "$@" --uri "unix://$WORK/west/run/charon.vici"
}

ike_reqid() { jq -r --arg t "$1" '.tunnels[$t].reqid // empty' "$WORK/west/state/owned.json" 2>/dev/null || true; }

ike_tunnel() { { xctl west --json status 2>/dev/null || true; } | jq -c --arg t "$1" '.tunnels[] | select(.name == $t)'; }
ike_is_up() { [ "$(ike_tunnel "$1" | jq -r .state)" = up ]; }
ike_reason() { ike_tunnel "$1" | jq -r .reason; }

ike_wait_up() {
    wait_for "$2" ike_is_up "$1" && return 0
    echo "--- west status"; xctl west status || true
    echo "--- west charon.log"; tail -30 "$WORK/west/state/charon.log" 2>/dev/null || true
    echo "--- east charon.log"; tail -30 "$WORK/east/charon.log" 2>/dev/null || true
    fail "$1 did not come up within $2 s"
}

sa_reqids() {
    ip -n "$1" xfrm state list | awk '/^\tproto esp / {
        for (i = 1; i < NF; i++) { if ($i == "reqid") r = $(i + 1); if ($i == "mode") m = $(i + 1) }
        print r, m }'
}
policy_reqids() {
    ip -n "$1" xfrm policy list | awk '/^\t\tproto esp / {
        for (i = 1; i < NF; i++) { if ($i == "reqid") r = $(i + 1); if ($i == "mode") m = $(i + 1) }
        print r, m }'
}
policies_with_dir() { ip -n "$1" xfrm policy list | grep -c $'^\tdir ' || true; }
# out_templates HOST: "priority spi" of each outbound policy's ESP template
# (spi "-" where it names none), highest precedence first
out_templates() {
    ip -n "$1" xfrm policy list dir out | awk '
        /^\tdir out / { for (i = 1; i < NF; i++) if ($i == "priority") p = $(i + 1) }
        /^\t\tproto esp / { s = "-"; for (i = 1; i < NF; i++) if ($i == "spi") s = $(i + 1); print p, s }' | sort -n
}

# A negotiated tunnel's policies come in two layers (plan::kFloorSelectorUser):
# charon's, whose outbound template names the SPI of the SA in use, one
# ahead in priority of xfrmd's, which name only the reqid.
ike_check_kernel() {
    local name=$1 mode=$2 family=${3:-4} reqid want=3 charons=3 layers
    [ "$mode" = transport ] && want=2 charons=2
    # IPv6 transport: and neighbour solicitations and advertisements let
    # through between the two addresses, both ways (4 bypass policies)
    [ "$mode" = transport ] && [ "$family" = 6 ] && want=6
    reqid=$(ike_reqid "$name")
    [ -n "$reqid" ] || fail "$name has no reqid in west's ledger"
    expect_eq "$(sa_reqids west | sort -u | tr '\n' ' ')" "$reqid $mode " "west: both ESP SAs carry $name's reqid $reqid, $mode mode"
    expect_eq "$(sa_reqids west | wc -l)" 2 "west: two ESP SAs"
    expect_eq "$(policies_with_dir west)" "$((want + charons))" "west: $want policies of xfrmctl's and $charons of charon's"
    expect_eq "$(jq --arg t "$name" '.tunnels[$t].policies | length' "$WORK/west/state/owned.json")" "$want" \
        "west's ledger owns xfrmctl's $want policies"
    expect_eq "$(policy_reqids west | sort -u | tr '\n' ' ')" "$reqid $mode " "each policy's template names reqid $reqid"
    layers=$(out_templates west | tr '\n' ' ')
    read -r ahead pinned behind floor <<< "$layers"
    expect_eq "$((behind - ahead))" 1 "west: charon's outbound policy one ahead of xfrmctl's ($layers)"
    expect_eq "$(ip -n west xfrm state list | grep -c "spi $pinned " || true)" 1 "west: charon's names the SA in use ($pinned)"
    expect_eq "$floor" - "west: xfrmctl's names only the reqid"
}

ike_pings() {
    ike_addresses "$1"
    local v6=()
    [ "$1" = 6 ] && v6=(-6)
    if [ "$2" = tunnel ]; then
        protected_ping esp west "${v6[@]}" -I "$WLAN" "$ELAN"
        protected_ping esp east "${v6[@]}" -I "$ELAN" "$WLAN"
    else
        protected_ping esp west "${v6[@]}" "$E"
        protected_ping esp east "${v6[@]}" "$W"
    fi
}

# no_reqid HOST REQID: neither an SA nor a policy template with it.
no_reqid() { ! { sa_reqids "$1"; policy_reqids "$1"; } | grep -q "^$2 "; }
no_spis() {
    local host=$1 spi
    shift
    for spi in "$@"; do sa_absent "$host" "$spi" || return 1; done
}

ike_check_gone() {
    local name=$1 reqid=$2
    shift 2
    wait_for 10 no_reqid west "$reqid" || fail "west still has SAs or policies of $name (reqid $reqid): $(ip -n west xfrm state list; ip -n west xfrm policy list)"
    pass "west: no SA or policy of the removed $name (reqid $reqid) left"
    wait_for 10 no_spis east "$@" || fail "east still has $name's SAs ($*)"
    pass "east: $name's SAs ($*) deleted too"
    expect_eq "$(ike_tunnel "$name")" "" "$name is gone from west's status"
}

# ike_setup: the two hosts, make_pki's certificates in $WORK/pki, a stock
# charon on east presenting east's, xfrmd on west with no tunnel yet;
# $started is when it began.
ike_setup() {
    two_hosts
    started=$EPOCHSECONDS
    make_pki "$WORK/pki"
    stock_charon_start east
    ike_east_cert east
    mkdir -p "$WORK/west/defs"
    xfrmd_start west
}
