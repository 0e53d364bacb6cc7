#include "xfrmctl/engine/status.hpp"

#include "xfrmctl/netlink/fields.hpp"
#include "xfrmctl/plan/desired.hpp"

#include <fmt/format.h>

#include <unordered_map>

namespace xfrmctl::engine {

const char* health_name(Health h)
{
    return h == Health::up ? "up" : h == Health::degraded ? "degraded" : "down";
}

namespace {

struct Lookup {
    const netlink::Tables* tables = nullptr;
    std::unordered_map<std::string, const netlink::SaEntry*> sas;
    std::unordered_map<std::string, const netlink::PolicyEntry*> policies;
};

Lookup index(const netlink::Tables& kernel)
{
    Lookup l;
    l.tables = &kernel;
    for (const auto& sa : kernel.sas)
        l.sas.emplace(sa.id.key(), &sa);
    for (const auto& p : kernel.policies)
        l.policies.emplace(p.id.key(), &p);
    return l;
}

void count_sa(TunnelStatus& s, const SaStatus& sa, const std::string& key, state::Observations& seen, std::uint64_t now)
{
    const auto& c = sa.counters;
    if (sa.outbound) {
        s.bytes_out += c.bytes;
        s.packets_out += c.packets;
        return;
    }
    s.bytes_in += c.bytes;
    s.packets_in += c.packets;
    s.replay_errors += c.replay_errors + c.replay_window_errors;
    s.integrity_errors += c.integrity_errors;
    std::optional<std::uint64_t> since = c.last_used ? std::optional(now - std::min(now, c.last_used))
                                                     : seen.seconds_since_change(key, c.packets, now);
    if (since && (!s.last_in_seconds || *since < *s.last_in_seconds))
        s.last_in_seconds = since;
}

// The device's name by its ifindex, among those the definitions name.
std::string device_name(const plan::KernelTraits& traits, int ifindex)
{
    for (const auto& [name, index] : traits.offload_devices)
        if (index == ifindex)
            return name;
    return fmt::format("ifindex {}", ifindex);
}

void note_offload(SaStatus& sa, const netlink::SaEntry& kernel, const plan::KernelTraits& traits)
{
    sa.offload = kernel.offload;
    if (kernel.offload)
        sa.offload_device = device_name(traits, kernel.offload->ifindex);
}

void check_sas(TunnelStatus& s, const plan::DesiredTunnel& d, const Lookup& kernel, const state::OwnedTunnel& owned,
               const plan::KernelTraits& traits, state::Observations& seen, std::uint64_t now)
{
    for (const auto& want : d.sas) {
        std::string key = want.entry.id.key();
        SaStatus sa{want.generation, want.outbound, want.entry.id.proto, want.entry.id.spi, false, {}, {}, {}};
        auto it = kernel.sas.find(key);
        if (it == kernel.sas.end()) {
            demote(s, Health::down, fmt::format("{} SA spi 0x{:08x} is missing", want.outbound ? "outbound" : "inbound", sa.spi));
        } else if (!owned.sas.contains(key)) {
            demote(s, Health::down, fmt::format("SA spi 0x{:08x} in the kernel is not ours", sa.spi));
        } else {
            sa.present = true;
            sa.counters = it->second->counters;
            note_offload(sa, *it->second, traits);
            if (auto fields = it->second->differences(want.entry, false); !fields.empty())
                demote(s, Health::degraded, fmt::format("SA spi 0x{:08x} differs from the definition in its {} (run apply)",
                                                        sa.spi, netlink::join_names(fields)));
            count_sa(s, sa, key, seen, now);
        }
        s.sas.push_back(sa);
    }
}

void check_negotiated_sas(TunnelStatus& s, const model::Tunnel& t, const plan::DesiredTunnel& d, const Lookup& kernel,
                          state::Observations& seen, std::uint64_t now)
{
    bool in = false, out = false;
    for (const auto& sa : kernel.tables->sas) {
        auto outbound = negotiated_direction(sa, t, d.reqid);
        if (!outbound)
            continue;
        SaStatus status{"negotiated", *outbound, sa.id.proto, sa.id.spi, true, sa.counters, sa.offload, {}};
        count_sa(s, status, sa.id.key(), seen, now);
        s.sas.push_back(status);
        (*outbound ? out : in) = true;
    }
    if (!out || !in)
        demote(s, Health::down, std::string(!out && !in ? "no negotiated SA" : !out ? "no negotiated outbound SA"
                                                                                   : "no negotiated inbound SA") +
                                    ": IKE is not established");
}

void check_policies(TunnelStatus& s, const plan::DesiredTunnel& d, const Lookup& kernel, const state::OwnedTunnel& owned)
{
    s.policies_wanted = d.policies.size();
    for (const auto& want : d.policies) {
        std::string key = want.entry.id.key();
        auto it = kernel.policies.find(key);
        if (it == kernel.policies.end() || !owned.policies.contains(key)) {
            demote(s, Health::down, fmt::format("policy {} {} is missing", netlink::direction_name(want.entry.id.dir),
                                                want.entry.id.selector.str()));
            continue;
        }
        ++s.policies_present;
        if (auto fields = it->second->differences(want.entry); !fields.empty())
            demote(s, Health::degraded, fmt::format("policy {} {} differs from the definition in its {} (run apply)",
                                                    netlink::direction_name(want.entry.id.dir),
                                                    want.entry.id.selector.str(), netlink::join_names(fields)));
    }
}

void check_interface(TunnelStatus& s, const plan::DesiredTunnel& d, const plan::LinkSnapshot& links)
{
    if (!d.interface)
        return;
    const netlink::LinkSpec& want = d.interface->link;
    s.interface = want.name;
    auto it = links.links.find(want.name);
    if (it == links.links.end())
        return demote(s, Health::down, "interface " + want.name + " is missing");
    if (!it->second.up)
        return demote(s, Health::down, "interface " + want.name + " is down");
    if (!plan::same_link(it->second.spec, want))
        demote(s, Health::degraded, "interface " + want.name + " differs from the definition (run apply)");
    for (const auto& r : d.interface->routes)
        if (!links.routes.contains(plan::route_key(want.name, r)))
            demote(s, Health::degraded, "route " + r.str() + " into " + want.name + " is missing");
}

void note_generations(TunnelStatus& s, const model::Tunnel& t, std::int64_t now)
{
    if (const model::Generation* g = t.sender(now))
        s.generation = g->name;
    for (const auto& g : t.generations)
        if (g.send_from && *g.send_from > now && (!s.next_roll || *g.send_from < *s.next_roll))
            s.next_roll = *g.send_from;
}

} // namespace

std::optional<bool> negotiated_direction(const netlink::SaEntry& sa, const model::Tunnel& t, std::uint32_t reqid)
{
    if (reqid == 0 || sa.reqid != reqid || sa.id.spi == 0)
        return std::nullopt;
    if (sa.saddr == t.local.address && sa.id.daddr == t.remote.address)
        return true;
    if (sa.saddr == t.remote.address && sa.id.daddr == t.local.address)
        return false;
    return std::nullopt;
}

void demote(TunnelStatus& s, Health h, std::string reason)
{
    if (h > s.health) {
        s.health = h;
        s.reason = std::move(reason);
    }
}

std::vector<TunnelStatus> tunnel_status(const StatusInputs& in, state::Observations& seen, std::uint64_t now)
{
    const auto& defs = in.defs;
    const auto& ledger = in.ledger;
    const auto& traits = in.traits;
    Lookup lookup = index(in.kernel);
    std::vector<TunnelStatus> result;
    for (const auto& t : defs.tunnels) {
        if (!t.present)
            continue;
        TunnelStatus s;
        s.name = t.name;
        s.definition = &t;
        s.health = Health::up;
        const state::OwnedTunnel* owned = ledger.find(t.name);
        state::OwnedTunnel none;
        plan::DesiredTunnel d = plan::compile_tunnel(t, owned ? owned->reqid : 0,
                                                     {.traits = traits, .now = static_cast<std::int64_t>(now), .retired = &ledger.retired()});
        if (!owned)
            demote(s, Health::down, "not applied");
        if (t.negotiated())
            check_negotiated_sas(s, t, d, lookup, seen, now);
        else
            check_sas(s, d, lookup, owned ? *owned : none, traits, seen, now);
        check_policies(s, d, lookup, owned ? *owned : none);
        check_interface(s, d, in.links);
        note_generations(s, t, static_cast<std::int64_t>(now));
        if (t.encapsulation && !in.held_encap_ports.contains(t.encapsulation->local_port))
            demote(s, Health::degraded,
                   fmt::format("no socket holds UDP port {} for ESP in UDP (run apply)", t.encapsulation->local_port));
        result.push_back(std::move(s));
    }
    return result;
}

} // namespace xfrmctl::engine
