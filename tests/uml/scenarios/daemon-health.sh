#!/bin/bash
# Health checks: one tunnel probed actively (an echo to a target in the
# remote subnet every second), one judged passively from its counters
# under a flow each way. With one direction blocked on the wire (nftables,
# bridge family: the only family this UML kernel's nf_tables has) each
# turns degraded (one-way), then down within dead_after, and up again when
# unblocked, every change an event with its reason; status, its JSON and
# the Prometheus textfile say the same, and the metrics (scraped and
# textfile, two tunnels) pass promtool check metrics, each family in one group.
. "$XFRMCTL_REPO/tests/uml/lib.sh"
two_hosts
pair probed tunnel esp '"aes256gcm16"' 0x5000 4 yes
pair passive tunnel esp '"aes256gcm16"' 0x5100 6 yes
amend west probed.json '.tunnels.probed.health = {"interval": 1, "dead_after": 6, "target": "10.2.0.1"}'
amend west passive.json '.tunnels.passive.health = {"interval": 1, "dead_after": 6}'
expect_rc 0 "apply east" xctl east apply
with_unit_capabilities # CAP_NET_ADMIN, CAP_NET_RAW (the probes), CAP_NET_BIND_SERVICE
xfrmd_start west --textfile "$WORK/west/metrics.prom"
expect_eq "$(grep CapEff "/proc/$(cat "$WORK/west/xfrmd.pid")/status" | awk '{ print $2 }')" 0000000000003400 \
    "xfrmd runs with the unit's capabilities only"
flow_start v6w2e west east 2001:db8:1::1 2001:db8:2::1 50
flow_start v6e2w east west 2001:db8:2::1 2001:db8:1::1 50

state_of() { xctl west status --json | jq -r --arg t "$1" '.tunnels[] | select(.name == $t) | .state'; }
# health_event TUNNEL STATE: the last health event of the tunnel turning STATE.
health_event() { events west health | jq -c --arg t "$1" --arg s "$2" 'select(.tunnel == $t and .state == $s)' | tail -1; }
has_event() { [ -n "$(health_event "$1" "$2")" ]; }
is_state() { [ "$(state_of "$1")" = "$2" ]; }
seconds_since() { echo $(((${EPOCHREALTIME/./}000 - $1) / 1000000000)); }

nap 4
expect_eq "$(state_of probed)" up "probed: up"
expect_eq "$(state_of passive)" up "passive: up"
expect_gt "$(xctl west status --json | jq '.tunnels[] | select(.name == "probed") | .packets_in')" 2 \
    "the probes come back through the tunnel"

log "east to west blocked on the wire (nftables)"
in_ns wire nft add table bridge block
in_ns wire nft add chain bridge block forward '{ type filter hook forward priority 0; }'
in_ns wire nft add rule bridge block forward ip saddr 192.0.2.2 ip protocol esp drop
in_ns wire nft add rule bridge block forward ip6 saddr 2001:db8::2 ip6 nexthdr esp drop
blocked=${EPOCHREALTIME/./}000
for t in probed passive; do
    wait_for 8 has_event $t degraded || fail "$t never turned degraded"
done
degraded_after=$(seconds_since "$blocked")
for t in probed passive; do
    wait_for 10 has_event $t down || fail "$t never turned down"
done
down_after=$(seconds_since "$blocked")
log "degraded after ${degraded_after}s, down after ${down_after}s (dead_after 6)"
expect_contains "$(json_get "$(health_event probed degraded)" .reason)" "one-way" "probed: degraded as one-way"
expect_contains "$(json_get "$(health_event passive degraded)" .reason)" "none in" "passive: degraded as one-way"
expect_contains "$(json_get "$(health_event probed down)" .reason)" "no answer from 10.2.0.1" "probed: down, the target silent"
expect_contains "$(json_get "$(health_event passive down)" .reason)" "none in" "passive: down, one-way too long"
[ "$down_after" -le 9 ] && pass "down within dead_after (and the 1 s tick)" || fail "down only after ${down_after}s"
expect_rc 3 "status: not up" xctl west status
expect_contains "$OUT" "probed: down: no answer from 10.2.0.1" "the table gives the reason"
expect_contains "$(cat "$WORK/west/metrics.prom")" 'xfrmctl_tunnel_state{tunnel="probed",state="down"} 1' \
    "the textfile says down"

log "unblocked"
in_ns wire nft delete table bridge block
for t in probed passive; do
    wait_for 8 is_state $t up || fail "$t did not come back up"
done
expect_eq "$(json_get "$(events west health | jq -c 'select(.tunnel == "probed")' | tail -1)" .state)" up "an event: probed up again"
expect_eq "$(json_get "$(events west health | jq -c 'select(.tunnel == "passive")' | tail -1)" .state)" up "an event: passive up again"
expect_rc 0 "status: all up" xctl west status
expect_rc 0 "status --prometheus" xctl west status --prometheus
expect_contains "$OUT" 'xfrmctl_tunnel_up{tunnel="probed"} 1' "Prometheus: probed up"
expect_contains "$OUT" 'xfrmctl_tunnel_packets_total{tunnel="passive",direction="in"}' "Prometheus: packet counters"
expect_contains "$OUT" 'xfrmctl_xfrm_stat_total{counter="XfrmInNoStates"}' "Prometheus: the host's XFRM counters"
expect_contains "$OUT" "xfrmctl_build_info{version=\"$("$XFRMCTL" --version | cut -d' ' -f2)\"} 1" "Prometheus: the version"
printf '%s\n' "$OUT" > "$WORK/west/scrape.prom"
for metrics in "$WORK/west/scrape.prom" "$WORK/west/metrics.prom"; do
    expect_rc 0 "promtool check metrics and one group a family: $(basename "$metrics")" \
        "$XFRMCTL_REPO/tests/tools/check-metrics" "$metrics"
done
expect_rc 0 "status --json" xctl west status --json
expect_eq "$(json_get "$OUT" '.xfrm_stat | has("XfrmOutPolBlock")')" true "JSON: the host's XFRM counters"
expect_eq "$(json_get "$OUT" .version)" "$("$XFRMCTL" --version | cut -d' ' -f2)" "JSON: the version"
pkill -f "$FLOW" || true
xfrmd_stop west
teardown
exit $FAILED
