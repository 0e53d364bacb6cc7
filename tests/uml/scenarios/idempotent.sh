#!/bin/bash
# apply twice: the second run reports changed: false and writes nothing
# (ip xfrm monitor sees no event). Changing one tunnel touches only it.
. "$XFRMCTL_REPO/tests/uml/lib.sh"
two_hosts
pair alpha tunnel esp '"aes256gcm16"' 0x8000 4 yes
pair beta transport esp '"aes128gcm16"' 0x8100 4
expect_rc 0 "apply west" xctl west apply
expect_rc 0 "apply east" xctl east apply
ping_ok west -I 10.1.0.1 10.2.0.1
ping_ok west 192.0.2.2

log "a second apply writes nothing"
before_tables=$(tables west)
before_state=$(md5sum "$WORK"/west/state/*.json)
monitor_start west
expect_rc 0 "second apply" xctl west apply --json
expect_eq "$(json_get "$OUT" .changed)" false "changed: false"
expect_eq "$(json_get "$OUT" '.changes | length')" 0 "no changes listed"
events=$(monitor_stop west)
expect_eq "$events" "" "ip xfrm monitor saw no kernel write"
expect_eq "$(tables west)" "$before_tables" "kernel tables identical"
expect_eq "$(md5sum "$WORK"/west/state/*.json)" "$before_state" "state files untouched"
expect_rc 0 "plan: nothing to do" xctl west plan
expect_rc 0 "apply --check: nothing to do" xctl west apply --check

log "changing one tunnel touches only it"
alpha_sa_before=$(ip -n west -s xfrm state list spi 0x8001 | grep 'add 20')
alpha_policies_before=$(ip -n west xfrm policy list src 10.1.0.0/24)
rm "$WORK/keys/beta."* 
pair beta transport esp '"aes128gcm16"' 0x8200 4 # new SPIs and keys
expect_rc 2 "plan shows pending changes" xctl west plan --json
expect_eq "$(json_get "$OUT" '[.changes[].tunnel] | unique | join(",")')" beta "only beta in the plan"
monitor_start west
expect_rc 0 "apply the change" xctl west apply --json
expect_eq "$(json_get "$OUT" .changed)" true "changed: true"
expect_eq "$(json_get "$OUT" '[.changes[].tunnel] | unique | join(",")')" beta "only beta changed"
expect_eq "$(json_get "$OUT" '[.changes[] | select(.object == "sa")] | length')" 4 "two SAs added, two removed"
events=$(monitor_stop west)
expect_contains "$events" "spi 0x00008201" "the new SA was written"
expect_contains "$events" "Deleted src 192.0.2.1 dst 192.0.2.2" "the old SA was removed"
expect_not_contains "$events" "0x00008001" "alpha's SAs were not touched"
expect_not_contains "$events" "10.1.0.0/24" "alpha's policies were not touched"
expect_eq "$(ip -n west -s xfrm state list spi 0x8001 | grep 'add 20')" "$alpha_sa_before" "alpha's SA is the same instance"
expect_eq "$(ip -n west xfrm policy list src 10.1.0.0/24)" "$alpha_policies_before" "alpha's policies as they were"
expect_eq "$(ip -n west xfrm state list spi 0x8101)" "" "beta's old outbound SA is gone"
expect_rc 0 "apply east" xctl east apply
ping_ok west 192.0.2.2
ping_ok west -I 10.1.0.1 10.2.0.1
expect_gt "$(sa_counter west 0x8001 packets)" 5 "alpha's counters kept counting across the change"

log "a new key under the same SPI replaces the SA, which stays ours"
new_key "$WORK/keys/alpha.esp.w2e" 36
expect_rc 0 "apply the new key" xctl west apply --json
expect_eq "$(json_get "$OUT" '[.changes[] | .action + " " + .spi] | join(",")')" "remove 0x00008001,add 0x00008001" \
    "the old SA out, the new one in"
expect_rc 0 "apply again" xctl west apply --json
expect_eq "$(json_get "$OUT" .changed)" false "nothing left to do: the replacement is owned"
expect_rc 0 "plan agrees" xctl west plan
