#include "xfrmctl/report/render.hpp"

#include <fmt/format.h>

namespace xfrmctl::report {

using plan::Change;
using plan::Op;

namespace {

const char* symbol(const Change& c) { return c.is_add() ? "+" : c.is_remove() ? "-" : "~"; }

const char* object_name(const Change& c)
{
    switch (c.object()) {
    case plan::Object::sa: return "sa";
    case plan::Object::policy: return "policy";
    case plan::Object::link: return "link";
    case plan::Object::address: return "address";
    case plan::Object::route: break;
    }
    return "route";
}

// A change is shown for a plan, or for an apply when it went in.
bool shown(const engine::ApplyReport* report, std::size_t t, std::size_t c)
{
    return !report || report->tunnels[t].done[c];
}

void print_change(std::ostream& out, const Change& c, bool diff)
{
    if (diff && c.op == Op::update_policy) {
        out << "  - " << c.before->describe() << "\n  + " << c.describe() << "  (" << c.reason << ")\n";
        return;
    }
    out << "  " << symbol(c) << " " << c.describe();
    if (!c.is_add())
        out << "  (" << c.reason << ")";
    out << "\n";
}

struct Counts {
    int add = 0, update = 0, remove = 0, tunnels = 0;
    bool host = false;
};

std::vector<std::string> host_lines(const plan::HostPlan& host)
{
    std::vector<std::string> lines;
    for (const auto& t : host.thresholds)
        lines.push_back(fmt::format("spd hash thresholds {} {}/{} -> {}/{}", family_name(t.family), t.before.lbits,
                                    t.before.rbits, t.after.lbits, t.after.rbits));
    if (host.default_after) {
        auto text = [](const netlink::DefaultPolicy& p) {
            return fmt::format("in {} fwd {} out {}", netlink::default_action_name(p.in), netlink::default_action_name(p.fwd),
                               netlink::default_action_name(p.out));
        };
        lines.push_back("default policy " + text(*host.default_after) + " (was " + text(*host.default_before) + ")");
    }
    return lines;
}

// The host settings to show: as planned, or as they were changed.
const plan::HostPlan& host_of(const plan::Plan& plan, const engine::ApplyReport* report)
{
    return report ? report->host : plan.host;
}

bool host_shown(const plan::Plan& plan, const engine::ApplyReport* report) { return host_of(plan, report).changes(); }

Counts count(const plan::Plan& plan, const engine::ApplyReport* report)
{
    Counts n;
    for (std::size_t t = 0; t < plan.tunnels.size(); ++t) {
        const auto& tp = plan.tunnels[t];
        bool any = false;
        for (std::size_t c = 0; c < tp.changes.size(); ++c) {
            if (tp.blocked() || !shown(report, t, c))
                continue;
            any = true;
            const Change& ch = tp.changes[c];
            (ch.is_add() ? n.add : ch.is_remove() ? n.remove : n.update)++;
        }
        n.tunnels += any;
    }
    if (host_shown(plan, report)) {
        n.host = true;
        n.update += static_cast<int>(host_lines(host_of(plan, report)).size());
    }
    return n;
}

} // namespace

void print_plan(std::ostream& out, const plan::Plan& plan, const engine::ApplyReport* report, bool diff)
{
    for (std::size_t t = 0; t < plan.tunnels.size(); ++t) {
        const auto& tp = plan.tunnels[t];
        if (tp.blocked() || tp.changes.empty() || (report && !report->tunnels[t].changed()))
            continue;
        out << (tp.name == plan::kHostTunnel ? "host bypass" : "tunnel " + tp.name) << (tp.removal ? " (removed)" : "")
            << "\n";
        for (std::size_t c = 0; c < tp.changes.size(); ++c)
            if (shown(report, t, c))
                print_change(out, tp.changes[c], diff);
    }
    if (host_shown(plan, report)) {
        out << "host\n";
        for (const auto& line : host_lines(host_of(plan, report)))
            out << "  ~ " << line << "\n";
    }
    Counts n = count(plan, report);
    if (n.tunnels == 0 && !n.host) {
        bool clean = !plan.has_refusals() && !(report && report->failed());
        const char* why = plan.takedown ? ": none of their entries are in the kernel.\n"
                                        : ": the kernel matches the definitions.\n";
        out << (report ? "Nothing changed" : "No changes") << (clean ? why : ".\n");
        return;
    }
    out << fmt::format("{}: {} to add, {} to update, {} to remove, in {} tunnel{}{}.\n", report ? "Applied" : "Plan",
                       n.add, n.update, n.remove, n.tunnels, n.tunnels == 1 ? "" : "s", n.host ? " and the host's settings" : "");
}

namespace {

nlohmann::json change_json(const plan::TunnelPlan& tp, const Change& c)
{
    nlohmann::json j = {{"tunnel", tp.name},
                        {"action", c.action()},
                        {"object", object_name(c)},
                        {"entry", c.describe()},
                        {"reason", c.reason}};
    if (!c.origin.empty())
        j["origin"] = c.origin;
    if (c.is_sa())
        j["spi"] = fmt::format("0x{:08x}", c.sa->id.spi);
    else if (c.object() == plan::Object::policy)
        j["direction"] = netlink::direction_name(c.policy->id.dir);
    else
        j["link"] = c.link ? c.link->name : c.link_name;
    if (c.op == Op::add_sa)
        j["key_file"] = c.key_file;
    if (c.before)
        j["before"] = c.before->describe();
    return j;
}

const char* tunnel_result(const plan::TunnelPlan& tp, const engine::ApplyReport* report, std::size_t t)
{
    if (tp.blocked())
        return "refused";
    if ((report && !report->tunnels[t].error.empty()) || !tp.errors.empty())
        return "failed";
    if (tp.changes.empty())
        return "unchanged";
    if (!report)
        return tp.removal ? "to remove" : "to change";
    return tp.removal ? "removed" : "changed";
}

} // namespace

nlohmann::json plan_json(const plan::Plan& plan, const engine::ApplyReport* report)
{
    nlohmann::json changes = nlohmann::json::array(), tunnels = nlohmann::json::array();
    for (std::size_t t = 0; t < plan.tunnels.size(); ++t) {
        const auto& tp = plan.tunnels[t];
        for (std::size_t c = 0; c < tp.changes.size() && !tp.blocked(); ++c)
            if (shown(report, t, c))
                changes.push_back(change_json(tp, tp.changes[c]));
        tunnels.push_back({{"name", tp.name}, {"result", tunnel_result(tp, report, t)}, {"warnings", tp.warnings}});
        nlohmann::json errors = tp.blocked() ? tp.refusals : tp.errors;
        if (report && !report->tunnels[t].error.empty())
            errors.push_back(report->tunnels[t].error);
        if (!errors.empty())
            tunnels.back()["errors"] = errors;
    }
    if (host_shown(plan, report))
        for (const auto& line : host_lines(host_of(plan, report)))
            changes.push_back({{"tunnel", nullptr}, {"action", "update"}, {"object", "host"}, {"entry", line}, {"reason", "host settings"}});
    return {{"changed", !changes.empty()},
            {"changes", changes},
            {"tunnels", tunnels},
            {"errors", plan_errors(plan, report)},
            {"warnings", plan_warnings(plan)}};
}

std::vector<std::string> plan_errors(const plan::Plan& plan, const engine::ApplyReport* report)
{
    std::vector<std::string> errors = plan.host.errors;
    if (report && !report->host_error.empty())
        errors.push_back(report->host_error);
    for (std::size_t t = 0; t < plan.tunnels.size(); ++t) {
        for (const auto& r : plan.tunnels[t].refusals)
            errors.push_back(plan.tunnels[t].file + ": " + r + " (tunnel " + plan.tunnels[t].name + " not changed)");
        for (const auto& e : plan.tunnels[t].errors)
            errors.push_back(plan.tunnels[t].file + ": " + e);
        if (report && !report->tunnels[t].error.empty())
            errors.push_back(report->tunnels[t].error);
    }
    return errors;
}

void print_outcome(std::ostream& out, std::ostream& err, bool json, const plan::Plan& plan,
                   const engine::ApplyReport* report, bool diff)
{
    if (json)
        out << plan_json(plan, report).dump(2) << "\n";
    else
        print_plan(out, plan, report, diff);
    for (const auto& w : plan_warnings(plan))
        err << "xfrmctl: warning: " << w << "\n";
    for (const auto& e : plan_errors(plan, report))
        err << "xfrmctl: " << e << "\n";
}

std::vector<std::string> plan_warnings(const plan::Plan& plan)
{
    std::vector<std::string> warnings;
    for (const auto& t : plan.tunnels)
        for (const auto& w : t.warnings)
            warnings.push_back(t.file + ": " + w);
    return warnings;
}

} // namespace xfrmctl::report
