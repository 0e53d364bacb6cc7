# shellcheck shell=bash
# Stock strongSwan peers (Debian's charon-systemd and swanctl, 5.9.8) inside
# the UML guest, as a third-party IKEv2 implementation for interoperability
# scenarios. Sourced by tests/uml/scenarios/*.sh after lib.sh.
#
#   stock_charon_start HOST     charon-systemd in namespace HOST, in a mount
#                               namespace of its own where /etc/swanctl is
#                               $WORK/HOST/swanctl and /run is $WORK/HOST/run
#                               (so /var/run/charon.vici, charon.enfy, ... are
#                               private); returns once VICI answers. Its log:
#                               $WORK/HOST/charon.log (stderr: charon.out).
#   stock_swanctl HOST ARGS...  swanctl against that instance.
#   stock_conf HOST <<EOF       $WORK/HOST/swanctl/swanctl.conf from stdin,
#                               then swanctl --load-all (fails the test if
#                               loading fails; output in $WORK/HOST/load.out).
#   stock_creds HOST DIR NAME [CA]
#                               DIR/CA.pem (default ca) into x509ca, NAME.pem
#                               into x509, NAME.key into private.
#   stock_charon_stop HOST [SIGNAL]
#                               TERM (charon removes its SAs and policies) or
#                               e.g. KILL (they stay in the kernel); waits.
#   stock_charon_stop_all       every instance; teardown calls it too.
#   stock_in HOST COMMAND...    a command in the instance's network and mount
#                               namespaces (e.g. to read /run/charon.enfy).
#   make_pki DIR                a CA and certificates for west and east, and
#                               an "untrusted" CA with a certificate for east.
#
# Nothing here writes outside $WORK: the private /etc/swanctl and /run are
# bind mounts of directories in $WORK, seen only by the instance.

: "${WORK:?source lib.sh first}"
STOCK_CHARON=${STOCK_CHARON:-/usr/sbin/charon-systemd}

# The strongswan.conf of an instance: the stock one (which includes
# /etc/strongswan.d as an installed package's does), then our overrides.
# charon-systemd reads its settings as "charon-systemd", falling back to
# "charon"; it would log to the journal, which the guest does not have.
stock_strongswan_conf() {
    local host=$1
    cat <<EOF
include /etc/strongswan.conf

charon {
	install_routes = no
	plugins {
		resolve {
			# never /etc/resolv.conf (on the host's disk)
			file = $WORK/$host/resolv.conf
		}
		error-notify {
			load = yes
			socket = unix:///var/run/charon.enfy
		}
	}
}

charon-systemd {
	journal {
		default = -1
	}
	filelog {
		stock {
			path = $WORK/$host/charon.log
			append = no
			flush_line = yes
			time_format = %T
			time_add_ms = yes
			ike_name = yes
			default = 1
			ike = 2
			cfg = 2
			knl = 2
		}
	}
}
EOF
}

stock_pid() {
    local file="$WORK/$1/charon.pid"
    [ -f "$file" ] || { echo "stock: no charon started on $1" >&2; return 1; }
    cat "$file"
}

# stock_in HOST COMMAND...: in the instance's network and mount namespaces,
# with its strongswan.conf.
stock_in() {
    local host=$1 pid
    shift
    pid=$(stock_pid "$host") || return 1
    STRONGSWAN_CONF="$WORK/$host/strongswan.conf" nsenter -t "$pid" -m -n "$@"
}

stock_swanctl() {
    local host=$1
    shift
    stock_in "$host" swanctl "$@"
}

stock_charon_start() {
    local host=$1 dir="$WORK/$1" d
    case $WORK in /run/tmp/*) ;; *) fail "stock: \$WORK ($WORK) must be under /run/tmp" ;; esac
    for d in x509 x509ca x509aa x509ocsp x509ac x509crl pubkey private rsa ecdsa bliss pkcs8 pkcs12 conf.d; do
        mkdir -p "$dir/swanctl/$d"
    done
    [ -f "$dir/swanctl/swanctl.conf" ] || echo 'include conf.d/*.conf' > "$dir/swanctl/swanctl.conf"
    mkdir -p "$dir/run/tmp"
    stock_strongswan_conf "$host" > "$dir/strongswan.conf"
    rm -f "$dir/charon.log"
    # In a mount namespace of its own: /etc/swanctl and /run replaced, and
    # /run/tmp (where $WORK is) brought back inside the new /run. The process
    # keeps its pid through nsenter, unshare, sh and charon (all exec).
    # shellcheck disable=SC2016 # expanded by the inner sh
    STRONGSWAN_CONF="$dir/strongswan.conf" nsenter --net="/run/netns/$host" \
        unshare --mount --propagation private sh -c '
            set -e
            mount --make-rprivate /
            mount --bind "$1/swanctl" /etc/swanctl
            mount --bind /run/tmp "$1/run/tmp"
            mount --rbind "$1/run" /run
            exec "$2"' stock-charon "$dir" "$STOCK_CHARON" > "$dir/charon.out" 2>&1 &
    local pid=$!
    disown "$pid"
    echo "$pid" > "$dir/charon.pid"
    for _ in $(seq 200); do
        if ! kill -0 "$pid" 2>/dev/null; then
            fail "charon on $host died: $(cat "$dir/charon.out"; tail -20 "$dir/charon.log" 2>/dev/null)"
        fi
        # until the exec is done (before it, nsenter would join our own
        # mount namespace), the socket is there (seen through the process's
        # root, in its mount namespace: cheaper than swanctl, which loads
        # its plugins each time) and VICI answers
        if [ "$(readlink "/proc/$pid/exe" 2>/dev/null)" = "$STOCK_CHARON" ] &&
            [ -S "/proc/$pid/root/run/charon.vici" ] &&
            stock_swanctl "$host" --stats > /dev/null 2>&1; then
            return 0
        fi
        nap 0.1
    done
    fail "charon on $host does not answer on VICI: $(cat "$dir/charon.out"; tail -20 "$dir/charon.log" 2>/dev/null)"
}

stock_charon_stop() {
    local host=$1 sig=${2:-TERM} pid
    pid=$(cat "$WORK/$host/charon.pid" 2>/dev/null) || return 0
    kill "-$sig" "$pid" 2>/dev/null || true
    for _ in $(seq 100); do
        kill -0 "$pid" 2>/dev/null || break
        nap 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
    wait_gone "$pid"
    rm -f "$WORK/$host/charon.pid"
}

stock_charon_stop_all() {
    local file
    for file in "$WORK"/*/charon.pid; do
        [ -f "$file" ] || continue
        stock_charon_stop "$(basename "$(dirname "$file")")"
    done
}

stock_conf() {
    local host=$1
    cat > "$WORK/$host/swanctl/swanctl.conf"
    stock_swanctl "$host" --load-all > "$WORK/$host/load.out" 2>&1 ||
        fail "swanctl --load-all on $host: $(cat "$WORK/$host/load.out")"
}

stock_creds() {
    local host=$1 dir=$2 name=$3 ca=${4:-ca}
    cp "$dir/$ca.pem" "$WORK/$host/swanctl/x509ca/$ca.pem"
    cp "$dir/$name.pem" "$WORK/$host/swanctl/x509/$name.pem"
    cp "$dir/$name.key" "$WORK/$host/swanctl/private/$name.key"
    chmod 600 "$WORK/$host/swanctl/private/$name.key"
}

# make_pki DIR: ECDSA P-256 keys and certificates (30 days), as PEM:
#   ca.key ca.pem                 "C=CH, O=xfrmctl, CN=xfrmctl test CA"
#   west.key west.pem             CN=west.example, SANs west.example,
#                                 192.0.2.1, 2001:db8::1
#   east.key east.pem             CN=east.example, SANs east.example,
#                                 192.0.2.2, 2001:db8::2
#   untrusted-ca.key untrusted-ca.pem, untrusted-east.key untrusted-east.pem
#                                 the same for east, from another CA
# pki loads only the plugins it needs here: with the stock list (and its
# TPM plugin's complaints) each run takes about 0.7 s in UML.
stock_pki() { STRONGSWAN_CONF="$WORK/pki.conf" pki "$@"; }
make_pki() {
    local dir=$1
    mkdir -p "$dir"
    printf 'pki {\n\tload = random drbg pem pkcs1 pkcs8 x509 pubkey openssl\n}\n' > "$WORK/pki.conf"
    pki_ca() { # NAME CN
        stock_pki --gen --type ecdsa --size 256 --outform pem > "$dir/$1.key"
        stock_pki --self --ca --lifetime 30 --type priv --in "$dir/$1.key" \
            --dn "C=CH, O=xfrmctl, CN=$2" --outform pem > "$dir/$1.pem"
    }
    pki_cert() { # NAME CA FQDN IPV4 IPV6
        stock_pki --gen --type ecdsa --size 256 --outform pem > "$dir/$1.key"
        stock_pki --issue --lifetime 30 --type priv --in "$dir/$1.key" \
            --cacert "$dir/$2.pem" --cakey "$dir/$2.key" \
            --dn "C=CH, O=xfrmctl, CN=$3" --san "$3" --san "$4" --san "$5" \
            --flag serverAuth --flag clientAuth --outform pem > "$dir/$1.pem"
    }
    pki_ca ca "xfrmctl test CA"
    pki_cert west ca west.example 192.0.2.1 2001:db8::1
    pki_cert east ca east.example 192.0.2.2 2001:db8::2
    pki_ca untrusted-ca "xfrmctl untrusted CA"
    pki_cert untrusted-east untrusted-ca east.example 192.0.2.2 2001:db8::2
    chmod 600 "$dir"/*.key
}

# teardown (lib.sh) stops every instance first; so does the script's exit.
if declare -F teardown > /dev/null && ! declare -F __stock_lib_teardown > /dev/null; then
    eval "$(declare -f teardown | sed '1s/^teardown /__stock_lib_teardown /')"
    teardown() {
        stock_charon_stop_all
        __stock_lib_teardown
    }
fi
__stock_exit_trap=$(trap -p EXIT | sed -E "s/^trap -- '(.*)' EXIT$/\1/")
# shellcheck disable=SC2064
trap "stock_charon_stop_all; ${__stock_exit_trap:-:}" EXIT
