#include "xfrmctl/report/render.hpp"

#include "xfrmctl/util/clock.hpp"
#include "xfrmctl/util/version.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace xfrmctl::report {

namespace {

std::string spis(const engine::TunnelStatus& s, bool outbound)
{
    std::string list;
    for (const auto& sa : s.sas)
        if (sa.outbound == outbound)
            list += fmt::format("{}{}:0x{:08x}", list.empty() ? "" : ",", netlink::protocol_name(sa.proto), sa.spi);
    return list.empty() ? "-" : list;
}

std::string bytes(std::uint64_t n)
{
    if (n < 1024)
        return fmt::format("{} B", n);
    if (n < 1024 * 1024)
        return fmt::format("{:.1f} KiB", static_cast<double>(n) / 1024);
    if (n < 1024ull * 1024 * 1024)
        return fmt::format("{:.1f} MiB", static_cast<double>(n) / (1024 * 1024));
    return fmt::format("{:.1f} GiB", static_cast<double>(n) / (1024.0 * 1024 * 1024));
}

std::string last_in(const engine::TunnelStatus& s)
{
    if (s.packets_in == 0)
        return "never";
    return s.last_in_seconds ? fmt::format("{}s ago", *s.last_in_seconds) : "?";
}

// Only those not zero: the interesting few of some thirty.
void print_host_counters(std::ostream& out, const engine::HostCounters& host)
{
    std::string line;
    for (const auto& [name, value] : host)
        if (value != 0)
            line += fmt::format("{}{} {}", line.empty() ? "" : ", ", name, value);
    if (!line.empty())
        out << "host: " << line << "\n";
}

std::string key_column(const engine::TunnelStatus& s)
{
    if (s.definition && s.definition->negotiated())
        return "ikev2";
    return s.generation.empty() ? "-" : s.generation;
}

std::string when(const std::optional<std::int64_t>& t)
{
    return t ? utc_timestamp(*t) : "-";
}

// "site: IKE ESTABLISHED AES_GCM_16-256/PRF_HMAC_SHA2_384/CURVE_25519 since ..."
void print_ike(std::ostream& out, const engine::TunnelStatus& s)
{
    const engine::IkeStatus& i = *s.ike;
    out << fmt::format("{}: IKE SA {}", s.name, i.state);
    if (!i.ike_algorithms.empty())
        out << fmt::format(" {} with {}, up since {}, rekeys at {}", i.ike_algorithms, i.remote_id, when(i.established),
                           when(i.ike_rekey));
    out << fmt::format("; CHILD SA {}", i.child_state);
    if (!i.child_algorithms.empty())
        out << fmt::format(" {}, last keyed {}, rekeys at {}", i.child_algorithms, when(i.child_installed),
                           when(i.child_rekey));
    if (!i.last_restart.empty())
        out << fmt::format("; fresh IKE SA at {}: {}", when(i.restarted), i.last_restart);
    out << "\n";
}

nlohmann::json ike_json(const engine::IkeStatus& i)
{
    auto time = [](const std::optional<std::int64_t>& t) { return t ? nlohmann::json(*t) : nlohmann::json(); };
    return {{"state", i.state},          {"algorithms", i.ike_algorithms},   {"remote_id", i.remote_id},
            {"established", time(i.established)}, {"next_rekey", time(i.ike_rekey)},
            {"child", {{"state", i.child_state}, {"algorithms", i.child_algorithms},
                       {"last_rekey", time(i.child_installed)}, {"next_rekey", time(i.child_rekey)}}},
            {"last_alert", i.last_alert.empty() ? nlohmann::json() : nlohmann::json(i.last_alert)},
            {"last_restart", i.last_restart.empty() ? nlohmann::json()
                                                    : nlohmann::json{{"reason", i.last_restart}, {"time", time(i.restarted)}}}};
}

std::size_t offloaded(const engine::TunnelStatus& s)
{
    return static_cast<std::size_t>(std::count_if(s.sas.begin(), s.sas.end(), [](const auto& sa) { return sa.offload.has_value(); }));
}

// "site: offload crypto to eth0: 2 of 2 SAs on the device": what was asked
// for beside what the kernel did, which may differ (a device may decline an
// SA, and the kernel then keeps it in software).
void print_offload(std::ostream& out, const engine::TunnelStatus& s)
{
    const model::Offload& o = *s.definition->offload;
    out << fmt::format("{}: offload {} to {}: {} of {} SAs on the device", s.name, o.packet ? "packet" : "crypto",
                       o.device, offloaded(s), s.sas.size());
    for (const auto& sa : s.sas)
        if (sa.present && !sa.offload)
            out << fmt::format("; spi 0x{:08x} in software", sa.spi);
        else if (sa.offload && (sa.offload_device != o.device || sa.offload->packet() != o.packet))
            out << fmt::format("; spi 0x{:08x} {} on {}", sa.spi, netlink::offload_mode_name(*sa.offload), sa.offload_device);
    out << "\n";
}

nlohmann::json sa_offload_json(const engine::SaStatus& sa)
{
    if (!sa.offload)
        return nullptr;
    return {{"device", sa.offload_device}, {"ifindex", sa.offload->ifindex},
            {"mode", netlink::offload_mode_name(*sa.offload)}, {"direction", sa.offload->inbound() ? "in" : "out"}};
}

nlohmann::json offload_json(const engine::TunnelStatus& s)
{
    if (!s.definition->offload)
        return nullptr;
    const model::Offload& o = *s.definition->offload;
    return {{"device", o.device}, {"mode", o.packet ? "packet" : "crypto"}, {"sas_offloaded", offloaded(s)},
            {"sas", s.sas.size()}};
}

} // namespace

void print_status(std::ostream& out, const std::vector<engine::TunnelStatus>& tunnels, const engine::HostCounters& host)
{
    if (tunnels.empty()) {
        out << "No tunnels defined.\n";
        return;
    }
    constexpr const char* row = "{:<16} {:<8} {:<8} {:<20} {:<20} {:>10} {:>8} {:>10} {:>8} {:>9} {:>6} {:>9}\n";
    out << fmt::format(row, "TUNNEL", "STATE", "KEY", "OUT SPI", "IN SPI", "BYTES OUT", "PKTS OUT", "BYTES IN", "PKTS IN",
                       "LAST IN", "REPLAY", "INTEGRITY");
    for (const auto& s : tunnels)
        out << fmt::format(row, s.name, engine::health_name(s.health), key_column(s),
                           spis(s, true), spis(s, false), bytes(s.bytes_out), s.packets_out, bytes(s.bytes_in),
                           s.packets_in, last_in(s), s.replay_errors, s.integrity_errors);
    for (const auto& s : tunnels)
        if (s.health != engine::Health::up)
            out << s.name << ": " << engine::health_name(s.health) << ": " << s.reason << "\n";
    for (const auto& s : tunnels)
        if (s.next_roll)
            out << s.name << ": the next key generation sends from " << utc_timestamp(*s.next_roll) << "\n";
    for (const auto& s : tunnels)
        if (s.definition && s.definition->offload)
            print_offload(out, s);
    for (const auto& s : tunnels)
        if (s.ike)
            print_ike(out, s);
    print_host_counters(out, host);
}

nlohmann::json status_json(const std::vector<engine::TunnelStatus>& tunnels, const engine::HostCounters& host)
{
    nlohmann::json list = nlohmann::json::array();
    for (const auto& s : tunnels) {
        nlohmann::json sas = nlohmann::json::array();
        for (const auto& sa : s.sas)
            sas.push_back({{"direction", sa.outbound ? "out" : "in"},
                           {"protocol", netlink::protocol_name(sa.proto)},
                           {"spi", fmt::format("0x{:08x}", sa.spi)},
                           {"present", sa.present},
                           {"generation", sa.generation},
                           {"bytes", sa.counters.bytes},
                           {"packets", sa.counters.packets},
                           {"replay_errors", sa.counters.replay_errors + sa.counters.replay_window_errors},
                           {"integrity_errors", sa.counters.integrity_errors},
                           {"offload", sa_offload_json(sa)}});
        list.push_back({{"name", s.name},
                        {"state", engine::health_name(s.health)},
                        {"reason", s.reason},
                        {"local", s.definition->local.address.str()},
                        {"remote", s.definition->remote.address.str()},
                        {"mode", netlink::mode_name(s.definition->mode)},
                        {"protocol", model::protocol_name(s.definition->protocol)},
                        {"sas", sas},
                        {"policies", {{"wanted", s.policies_wanted}, {"present", s.policies_present}}},
                        {"interface", s.interface.empty() ? nlohmann::json() : nlohmann::json(s.interface)},
                        {"offload", offload_json(s)},
                        {"bytes_in", s.bytes_in},
                        {"bytes_out", s.bytes_out},
                        {"packets_in", s.packets_in},
                        {"packets_out", s.packets_out},
                        {"last_in_seconds", s.last_in_seconds ? nlohmann::json(*s.last_in_seconds) : nlohmann::json()},
                        {"replay_errors", s.replay_errors},
                        {"integrity_errors", s.integrity_errors},
                        {"generation", s.generation.empty() ? nlohmann::json() : nlohmann::json(s.generation)},
                        {"next_roll", s.next_roll ? nlohmann::json(*s.next_roll) : nlohmann::json()},
                        {"keying", s.definition->negotiated() ? "ikev2" : "manual"},
                        {"ike", s.ike ? ike_json(*s.ike) : nlohmann::json()}});
    }
    return {{"version", version()}, {"tunnels", list}, {"xfrm_stat", host}};
}

namespace {

std::string label(const std::string& tunnel) // names are [a-z0-9._-]: nothing to escape
{
    return "tunnel=\"" + tunnel + "\"";
}

struct Family {
    const char* name;
    const char* help;
    const char* type;
};
using Samples = std::vector<std::pair<std::string, std::string>>; // labels, value

// A family's HELP and TYPE, then all of its samples in one group: the text
// format wants them together (a parser that meets another name between two
// of them starts a new family, and Prometheus' own Python one does).
void put(std::string& out, const Family& f, const Samples& samples)
{
    out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", f.name, f.help, f.name, f.type);
    for (const auto& [labels, value] : samples)
        out += fmt::format("{}{{{}}} {}\n", f.name, labels, value);
}

// One sample a tunnel, for those whose value() is not nullopt.
template <typename Value>
Samples per_tunnel(const std::vector<engine::TunnelStatus>& tunnels, Value value)
{
    Samples samples;
    for (const auto& s : tunnels)
        if (auto v = value(s))
            samples.emplace_back(label(s.name), fmt::format("{}", *v));
    return samples;
}

// Two samples a tunnel, by direction: value(s, inbound).
template <typename Value>
Samples per_direction(const std::vector<engine::TunnelStatus>& tunnels, Value value)
{
    Samples samples;
    for (const auto& s : tunnels)
        for (bool inbound : {true, false})
            samples.emplace_back(fmt::format("{},direction=\"{}\"", label(s.name), inbound ? "in" : "out"),
                                 fmt::format("{}", value(s, inbound)));
    return samples;
}

Samples states(const std::vector<engine::TunnelStatus>& tunnels)
{
    Samples samples;
    for (const auto& s : tunnels)
        for (auto h : {engine::Health::up, engine::Health::degraded, engine::Health::down})
            samples.emplace_back(fmt::format("{},state=\"{}\"", label(s.name), engine::health_name(h)),
                                 s.health == h ? "1" : "0");
    return samples;
}

Samples host_counters(const engine::HostCounters& host)
{
    Samples samples;
    for (const auto& [name, value] : host)
        samples.emplace_back(fmt::format("counter=\"{}\"", name), fmt::format("{}", value));
    return samples;
}

template <typename T>
std::optional<T> always(T value)
{
    return value;
}

void put_ike(std::string& out, const std::vector<engine::TunnelStatus>& tunnels)
{
    put(out, {"xfrmctl_ike_established", "ikev2 tunnels: 1 while the IKE SA and CHILD SA are up.", "gauge"},
        per_tunnel(tunnels, [](const engine::TunnelStatus& s) {
            return s.ike ? std::optional(s.ike->state == "ESTABLISHED" && s.ike->child_state == "INSTALLED" ? 1 : 0)
                         : std::nullopt;
        }));
    put(out, {"xfrmctl_ike_child_rekey_timestamp_seconds", "ikev2 tunnels: when the CHILD SA rekeys next.", "gauge"},
        per_tunnel(tunnels, [](const engine::TunnelStatus& s) {
            return s.ike ? s.ike->child_rekey : std::nullopt;
        }));
}

} // namespace

std::string prometheus(const std::vector<engine::TunnelStatus>& tunnels, const engine::HostCounters& host)
{
    using S = engine::TunnelStatus;
    std::string out;
    put(out, {"xfrmctl_build_info", "The version of the program that reports (the value is always 1).", "gauge"},
        {{fmt::format("version=\"{}\"", version()), "1"}});
    put(out, {"xfrmctl_tunnel_up", "1 when the tunnel is up, 0 when degraded or down.", "gauge"},
        per_tunnel(tunnels, [](const S& s) { return always(s.health == engine::Health::up ? 1 : 0); }));
    put(out, {"xfrmctl_tunnel_state", "The tunnel's state: 1 for the one it is in.", "gauge"}, states(tunnels));
    put(out, {"xfrmctl_tunnel_bytes_total", "Bytes carried, by direction.", "counter"},
        per_direction(tunnels, [](const S& s, bool in) { return in ? s.bytes_in : s.bytes_out; }));
    put(out, {"xfrmctl_tunnel_packets_total", "Packets carried, by direction.", "counter"},
        per_direction(tunnels, [](const S& s, bool in) { return in ? s.packets_in : s.packets_out; }));
    put(out, {"xfrmctl_tunnel_replay_errors_total", "Inbound packets dropped as replayed or outside the window.", "counter"},
        per_tunnel(tunnels, [](const S& s) { return always(s.replay_errors); }));
    put(out, {"xfrmctl_tunnel_integrity_errors_total", "Inbound packets that failed their integrity check.", "counter"},
        per_tunnel(tunnels, [](const S& s) { return always(s.integrity_errors); }));
    put(out, {"xfrmctl_tunnel_last_packet_in_seconds", "Seconds since the last packet came in.", "gauge"},
        per_tunnel(tunnels, [](const S& s) { return s.last_in_seconds; }));
    put(out, {"xfrmctl_tunnel_key_roll_timestamp_seconds", "When a newer key generation starts sending.", "gauge"},
        per_tunnel(tunnels, [](const S& s) { return s.next_roll; }));
    put_ike(out, tunnels);
    put(out, {"xfrmctl_xfrm_stat_total", "The host's XFRM error counters (/proc/net/xfrm_stat).", "counter"},
        host_counters(host));
    return out;
}

} // namespace xfrmctl::report
