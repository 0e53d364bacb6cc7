# shellcheck shell=bash
# Helpers for scenarios where xfrmd negotiates with IKEv2 (sourced after
# lib.sh and strongswan.sh).
#
#   psk_file HOST [PSK]          $WORK/HOST/keys/psk (mode 600): the PSK
#                                given, or a fresh random one; prints it
#   ike_defs HOST NAME LOCAL REMOTE LSUB RSUB KEYING_JSON [FIELDS_JSON]
#                                writes $WORK/HOST/defs/NAME.json: one
#                                ikev2 tunnel (subnets as JSON lists or "";
#                                FIELDS_JSON: more fields of the tunnel)
#   ike_state HOST NAME          the tunnel's "IKE/CHILD/health" from status
#   ike_up HOST NAME             true once the tunnel is up with IKE up
#   sa_count HOST                the SAs in HOST's kernel
#   stock_peer_psk HOST NAME LOCAL REMOTE LTS RTS PSK [EXTRA]
#                                a stock charon's swanctl.conf for one PSK
#                                connection (EXTRA: more connection lines)

psk_file() {
    local host=$1 psk=${2:-}
    mkdir -p "$WORK/$host/keys"
    [ -n "$psk" ] || psk=$(head -c 24 /dev/urandom | base64)
    printf '%s\n' "$psk" > "$WORK/$host/keys/psk"
    chmod 600 "$WORK/$host/keys/psk"
    secrets_keep "$WORK/$host/keys/psk"
    printf '%s' "$psk"
}

ike_defs() {
    local host=$1 name=$2 local=$3 remote=$4 lsub=$5 rsub=$6 keying=$7 extra=${8:-"{}"}
    mkdir -p "$WORK/$host/defs"
    jq -n --arg n "$name" --arg l "$local" --arg r "$remote" \
        --argjson ls "${lsub:-null}" --argjson rs "${rsub:-null}" --argjson k "$keying" --argjson x "$extra" '
        {version: 1, tunnels: {($n): ({
            local: ({address: $l} + (if $ls then {subnets: $ls} else {} end)),
            remote: ({address: $r} + (if $rs then {subnets: $rs} else {} end)),
            keying: ({method: "ikev2"} + $k)}
            + (if $ls then {} else {mode: "transport"} end) + $x)}}' > "$WORK/$host/defs/$name.json"
}

ike_state() {
    xctl "$1" --json status 2>/dev/null |
        jq -r --arg n "$2" '.tunnels[] | select(.name == $n) | "\(.ike.state // "-")/\(.ike.child.state // "-")/\(.state)"'
}

ike_up() { [ "$(ike_state "$1" "$2")" = "ESTABLISHED/INSTALLED/up" ]; }

sa_count() { ip -n "$1" xfrm state list | grep -c '^src' || true; }

stock_peer_psk() {
    local host=$1 name=$2 local=$3 remote=$4 lts=$5 rts=$6 psk=$7 extra=${8:-} child_extra=${9:-}
    stock_conf "$host" <<CONF
connections {
    $name {
        local_addrs = $local
        remote_addrs = $remote
        proposals = aes256gcm16-prfsha384-x25519
        $extra
        local {
            auth = psk
            id = $local
        }
        remote {
            auth = psk
            id = $remote
        }
        children {
            $name {
                local_ts = $lts
                remote_ts = $rts
                esp_proposals = aes256gcm16-x25519
                $child_extra
            }
        }
    }
}
secrets {
    ike-$name {
        id-1 = $local
        id-2 = $remote
        secret = "$psk"
    }
}
CONF
}
