#!/bin/bash
# The stock strongSwan harness (tests/uml/strongswan.sh) works: two stock
# charons, west and east, negotiate IKEv2 lan-to-lan tunnels with a PSK,
# with X.509 certificates, and over IPv6; the wire carries only ESP. A
# certificate from an untrusted CA is refused.
. "$XFRMCTL_REPO/tests/uml/lib.sh"
. "$XFRMCTL_REPO/tests/uml/strongswan.sh"
two_hosts
started=$EPOCHSECONDS

make_pki "$WORK/pki"
stock_charon_start west
stock_charon_start east
expect_contains "$(stock_swanctl west --stats)" "vici" "west's charon answers on VICI"
expect_contains "$(stock_swanctl east --stats)" "vici" "east's charon answers on VICI"
expect_ne "$(readlink /proc/"$(stock_pid west)"/ns/mnt)" "$(readlink /proc/self/ns/mnt)" "west's charon has its own mount namespace"
expect_eq "$(stock_in west sh -c 'test -S /var/run/charon.vici && echo yes')" yes "west's VICI socket is in its private /run"
expect_eq "$(test -e /run/charon.vici && echo yes || echo no)" no "no VICI socket in the guest's own /run"
expect_contains "$(grep 'loaded plugins' "$WORK/west/charon.log")" " error-notify" "the error-notify plugin is loaded"
expect_eq "$(stock_in west sh -c 'test -S /var/run/charon.enfy && echo yes')" yes "its socket is /var/run/charon.enfy"

# conf HOST NAME AUTH LOCAL REMOTE LOCAL_ID REMOTE_ID LOCAL_TS REMOTE_TS [EXTRA]
# One connection with one child "lan"; AUTH psk or pubkey.
conf() {
    local host=$1 name=$2 auth=$3 laddr=$4 raddr=$5 lid=$6 rid=$7 lts=$8 rts=$9 extra=${10:-}
    local remote_extra=""
    [ "$auth" = pubkey ] && remote_extra="cacerts = ca.pem"
    stock_conf "$host" <<EOF
connections {
    $name {
        version = 2
        local_addrs = $laddr
        remote_addrs = $raddr
        proposals = aes256-sha256-x25519
        local {
            auth = $auth
            id = $lid
            $([ "$auth" = pubkey ] && echo "certs = $host.pem")
        }
        remote {
            auth = $auth
            id = $rid
            $remote_extra
        }
        children {
            lan {
                local_ts = $lts
                remote_ts = $rts
                esp_proposals = aes256gcm16
            }
        }
        $extra
    }
}
secrets {
    ike-site {
        id-west = west.example
        id-east = east.example
        secret = "stock strongSwan test secret"
    }
}
EOF
}

# sas_policies HOST: "SAS POLICIES" in the kernel (charon's per-socket IKE
# bypass policies, which ip xfrm lists as "socket in/out", left out).
sas_policies() {
    echo "$(ip -n "$1" xfrm state list | grep -c '^src' || true) $(ip -n "$1" xfrm policy list | grep -c '	dir ' || true)"
}

# up NAME: west initiates; both ends then have the IKE SA and two ESP SAs.
up() {
    expect_rc 0 "west initiates $1" stock_swanctl west --initiate --child lan --ike "$1" --timeout 20
    expect_contains "$(stock_swanctl west --list-sas)" "ESTABLISHED" "west: IKE SA $1 established"
    expect_contains "$(stock_swanctl east --list-sas)" "INSTALLED, TUNNEL" "east: child SA installed"
    expect_eq "$(ip -n west xfrm state list | grep -c '^src')" 2 "west's kernel has 2 SAs"
    expect_eq "$(ip -n east xfrm state list | grep -c '^src')" 2 "east's kernel has 2 SAs"
}

# down NAME: west ends the IKE SA; both kernels are clean again.
down() {
    expect_rc 0 "west terminates $1" stock_swanctl west --terminate --ike "$1" --timeout 20
    # shellcheck disable=SC2016 # expanded by sh
    wait_for 10 sh -c '[ -z "$(ip -n east xfrm state list)" ]' || fail "east still has SAs"
    expect_eq "$(sas_policies west) $(sas_policies east)" "0 0 0 0" "no SA or policy left on either host"
}

log "IKEv2 with a PSK, 10.1.0.0/24 <-> 10.2.0.0/24"
conf west psk psk 192.0.2.1 192.0.2.2 west.example east.example 10.1.0.0/24 10.2.0.0/24
conf east psk psk 192.0.2.2 192.0.2.1 east.example west.example 10.2.0.0/24 10.1.0.0/24
up psk
expect_contains "$(ip -n west xfrm policy list)" "tmpl src 192.0.2.1 dst 192.0.2.2" "west: charon's outbound policy"
expect_contains "$(ip -n west xfrm state list)" "rfc4106(gcm(aes))" "ESP with AES-GCM"
expect_eq "$(ip -n west route show table all | grep -c 'table 220' || true)" 0 "install_routes = no: no routes in table 220"
protected_ping esp west -I 10.1.0.1 10.2.0.1
down psk

log "IKEv2 with X.509 certificates from make_pki"
stock_creds west "$WORK/pki" west
stock_creds east "$WORK/pki" east
conf west cert pubkey 192.0.2.1 192.0.2.2 west.example east.example 10.1.0.0/24 10.2.0.0/24
conf east cert pubkey 192.0.2.2 192.0.2.1 east.example west.example 10.2.0.0/24 10.1.0.0/24
up cert
expect_contains "$(stock_swanctl west --list-sas)" "east.example" "west authenticated east.example"
protected_ping esp west -I 10.1.0.1 10.2.0.1
down cert

log "a certificate for east.example from another CA is refused"
cp "$WORK/pki/untrusted-east.pem" "$WORK/east/swanctl/x509/east.pem"
cp "$WORK/pki/untrusted-east.key" "$WORK/east/swanctl/private/east.key"
conf east cert pubkey 192.0.2.2 192.0.2.1 east.example west.example 10.2.0.0/24 10.1.0.0/24
expect_rc 1 "west's initiation fails" stock_swanctl west --initiate --child lan --ike cert --timeout 20
expect_contains "$(cat "$WORK/west/charon.log")" 'no issuer certificate found for "C=CH, O=xfrmctl, CN=east.example"' "west found no issuer for east's certificate"
expect_eq "$(sas_policies west) $(sas_policies east)" "0 0 0 0" "no SA or policy on either host"
stock_creds east "$WORK/pki" east

log "IPv6 outer addresses (certificates, IP address identities), IPv4 and IPv6 inside"
conf west v6 pubkey 2001:db8::1 2001:db8::2 2001:db8::1 2001:db8::2 10.1.0.0/24,2001:db8:1::/64 10.2.0.0/24,2001:db8:2::/64
conf east v6 pubkey 2001:db8::2 2001:db8::1 2001:db8::2 2001:db8::1 10.2.0.0/24,2001:db8:2::/64 10.1.0.0/24,2001:db8:1::/64
up v6
expect_contains "$(ip -n west xfrm state list)" "src 2001:db8::1 dst 2001:db8::2" "west's SA has IPv6 outer addresses"
protected_ping esp west -6 -I 2001:db8:1::1 2001:db8:2::1
protected_ping esp west -I 10.1.0.1 10.2.0.1
down v6

log "charon stops cleanly"
west_pid=$(stock_pid west)
stock_charon_stop west
stock_charon_stop east
expect_eq "$(kill -0 "$west_pid" 2>/dev/null && echo running || echo gone)" gone "west's charon has ended"
expect_contains "$(grep SIGTERM "$WORK/west/charon.log")" "SIGTERM received, shutting down" "west's charon shut down on SIGTERM"
log "took $(($EPOCHSECONDS - started)) s after the namespaces were made"
teardown
