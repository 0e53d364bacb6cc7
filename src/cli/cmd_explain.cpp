#include "context.hpp"
#include "xfrmctl/engine/explain.hpp"

#include <fmt/format.h>
#include <net/if.h>
#include <netdb.h>

#include <charconv>
#include <iostream>

namespace xfrmctl::cli {

namespace {

Result<std::uint8_t> protocol_number(const std::string& text)
{
    unsigned value = 0;
    auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (!text.empty() && error == std::errc() && end == text.data() + text.size() && value <= 255)
        return static_cast<std::uint8_t>(value);
    if (const protoent* p = getprotobyname(text.c_str()))
        return static_cast<std::uint8_t>(p->p_proto);
    for (auto [name, number] : {std::pair{"tcp", 6}, {"udp", 17}, {"icmp", 1}, {"icmpv6", 58}, {"sctp", 132}, {"gre", 47}})
        if (text == name)
            return static_cast<std::uint8_t>(number);
    return fail("\"" + text + "\" is not an IP protocol (tcp, udp, icmp, ... or a number)");
}

Result<engine::Flow> read_flow(const ExplainArgs& a)
{
    engine::Flow f;
    auto src = IpAddress::parse(a.src), dst = IpAddress::parse(a.dst);
    if (!src)
        return fail("\"" + a.src + "\" is not an IPv4 or IPv6 address");
    if (!dst)
        return fail("\"" + a.dst + "\" is not an IPv4 or IPv6 address");
    if (src->family != dst->family)
        return fail("the source and the destination must be of one family");
    f.src = *src;
    f.dst = *dst;
    if (!a.proto.empty()) {
        auto proto = protocol_number(a.proto);
        if (!proto)
            return fail(proto.error());
        f.proto = *proto;
    }
    f.dport = a.port;
    f.sport = a.sport;
    f.mark = a.mark;
    f.if_id = a.if_id;
    f.dir = a.dir == "in" ? netlink::Direction::in : a.dir == "fwd" ? netlink::Direction::fwd : netlink::Direction::out;
    return f;
}

std::string owned_by(const std::string& owner, bool negotiated = false)
{
    return owner.empty() ? " (not installed by xfrmctl)"
                         : " (tunnel " + owner + (negotiated ? ", negotiated by charon)" : ")");
}

// The device an SA is offloaded to, by name (the kernel reports its index).
std::string device_of(const netlink::Offload& o)
{
    char name[IF_NAMESIZE] = "";
    return if_indextoname(static_cast<unsigned>(o.ifindex), name) ? std::string(name) : fmt::format("ifindex {}", o.ifindex);
}

// An SA the kernel reports with XFRMA_OFFLOAD_DEV is on the device; one
// without it is in software, whatever was asked (status compares the two).
std::string offload_line(const netlink::SaEntry& sa)
{
    if (!sa.offload)
        return "";
    return fmt::format("  offload: {} on {} ({})\n", netlink::offload_mode_name(*sa.offload), device_of(*sa.offload),
                       sa.offload->inbound() ? "inbound" : "outbound");
}

nlohmann::json offload_json(const std::optional<netlink::SaEntry>& sa)
{
    if (!sa || !sa->offload)
        return nullptr;
    const netlink::Offload& o = *sa->offload;
    return {{"device", device_of(o)}, {"ifindex", o.ifindex}, {"mode", netlink::offload_mode_name(o)},
            {"direction", o.inbound() ? "in" : "out"}};
}

void print(const engine::Explanation& e)
{
    std::cout << "flow:     " << e.flow.str() << "\n";
    if (e.policy) {
        std::cout << "policy:   " << e.policy->describe()
                  << (e.charon_policy ? " (charon's, for tunnel " + e.policy_owner + ")" : owned_by(e.policy_owner)) << "\n"
                  << "  why:    " << e.why << "\n";
        for (const auto& p : e.also_matched)
            std::cout << "  beaten: " << p.describe() << "\n";
    }
    for (std::size_t i = 0; i < e.steps.size(); ++i) {
        const auto& s = e.steps[i];
        std::cout << fmt::format("template {}: {} {} reqid {} to {}\n", i + 1, netlink::protocol_name(s.tmpl.proto),
                                 netlink::mode_name(s.tmpl.mode), s.tmpl.reqid, s.daddr.str());
        if (s.sa)
            std::cout << "  sa:     " << s.sa->describe() << owned_by(s.owner, s.negotiated)
                      << fmt::format(", {} bytes, {} packets so far\n", s.sa->counters.bytes, s.sa->counters.packets)
                      << offload_line(*s.sa);
        else
            std::cout << "  sa:     none\n";
    }
    std::cout << "verdict:  " << e.summary << "\n";
}

nlohmann::json as_json(const engine::Explanation& e)
{
    static constexpr const char* verdicts[] = {"protected", "bypassed", "dropped-no-sa", "dropped-blocked",
                                               "clear-no-policy", "dropped-by-default"};
    nlohmann::json steps = nlohmann::json::array();
    for (const auto& s : e.steps)
        steps.push_back({{"protocol", netlink::protocol_name(s.tmpl.proto)},
                         {"mode", netlink::mode_name(s.tmpl.mode)},
                         {"reqid", s.tmpl.reqid},
                         {"sa", s.sa ? nlohmann::json(s.sa->describe()) : nlohmann::json()},
                         {"spi", s.sa ? nlohmann::json(fmt::format("0x{:08x}", s.sa->id.spi)) : nlohmann::json()},
                         {"offload", offload_json(s.sa)},
                         {"tunnel", s.owner.empty() ? nlohmann::json() : nlohmann::json(s.owner)},
                         {"negotiated", s.negotiated}});
    nlohmann::json beaten = nlohmann::json::array();
    for (const auto& p : e.also_matched)
        beaten.push_back(p.describe());
    return {{"flow", e.flow.str()},
            {"policy", e.policy ? nlohmann::json(e.policy->describe()) : nlohmann::json()},
            {"tunnel", e.policy_owner.empty() ? nlohmann::json() : nlohmann::json(e.policy_owner)},
            {"charon_policy", e.charon_policy},
            {"why", e.why},
            {"beaten", beaten},
            {"templates", steps},
            {"verdict", verdicts[static_cast<int>(e.verdict)]},
            {"summary", e.summary}};
}

} // namespace

int run_explain(const GlobalOptions& g, const ExplainArgs& args)
{
    auto flow = read_flow(args);
    if (!flow)
        return report_error(g, flow.error());
    auto local = open_local(g, false);
    if (!local)
        return report_error(g, local.error());
    auto tables = local->kernel.tables();
    if (!tables)
        return report_error(g, tables.error());
    auto e = engine::explain(*flow, *tables, local->store.ledger);
    if (g.json)
        std::cout << as_json(e).dump(2) << "\n";
    else
        print(e);
    return kOk;
}

} // namespace xfrmctl::cli
