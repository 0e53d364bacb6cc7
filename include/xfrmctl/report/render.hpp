// Turning plans, apply results and status into tables or JSON.
#pragma once

#include "xfrmctl/engine/executor.hpp"
#include "xfrmctl/engine/status.hpp"
#include "xfrmctl/engine/xfrm_stat.hpp"
#include "xfrmctl/plan/planner.hpp"

#include <nlohmann/json.hpp>

#include <ostream>

namespace xfrmctl::report {

// report == nullptr: a plan not (yet) carried out.
void print_plan(std::ostream& out, const plan::Plan& plan, const engine::ApplyReport* report, bool diff);
// Entries before an update are always included ("before").
nlohmann::json plan_json(const plan::Plan& plan, const engine::ApplyReport* report);

// Every refusal, warning and kernel error, one line each.
std::vector<std::string> plan_errors(const plan::Plan& plan, const engine::ApplyReport* report);
std::vector<std::string> plan_warnings(const plan::Plan& plan);

// A plan (report == nullptr) or what apply did: as a table or JSON on
// `out`, each warning and error as one line on `err`.
void print_outcome(std::ostream& out, std::ostream& err, bool json, const plan::Plan& plan,
                   const engine::ApplyReport* report, bool diff);

// Each tunnel, then the host's XFRM error counters (the table shows those
// that are not zero).
void print_status(std::ostream& out, const std::vector<engine::TunnelStatus>& tunnels,
                  const engine::HostCounters& host = {});
nlohmann::json status_json(const std::vector<engine::TunnelStatus>& tunnels, const engine::HostCounters& host = {});
// The Prometheus text exposition format (for node_exporter's textfile
// collector, or a scrape through xfrmctl status --prometheus).
std::string prometheus(const std::vector<engine::TunnelStatus>& tunnels, const engine::HostCounters& host = {});

} // namespace xfrmctl::report
