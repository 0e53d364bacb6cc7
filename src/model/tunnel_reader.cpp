#include "tunnel_reader.hpp"

#include <fmt/format.h>
#include <netinet/in.h>

#include <charconv>

namespace xfrmctl::model {

namespace {

Parsed<IpAddress> read_address(const Origin& o, const json& v, const std::string& at)
{
    auto text = read_string(o, v, at);
    if (!text)
        return std::unexpected(text.error());
    auto address = IpAddress::parse(*text);
    if (!address)
        return o.fail(at, fmt::format("\"{}\" is not an IPv4 or IPv6 address", *text));
    if (address->is_unspecified())
        return o.fail(at, fmt::format("\"{}\" is the unspecified address; give the host's own address", *text));
    // ESP to or from such an address never leaves the host or reaches one peer.
    if (const char* kind = address->never_an_endpoint())
        return o.fail(at, fmt::format("\"{}\" is a {} address: a tunnel's ends are the unicast addresses of two "
                                      "hosts",
                                      *text, kind));
    return *address;
}

Parsed<Prefix> read_prefix(const Origin& o, const json& v, const std::string& at)
{
    auto text = read_string(o, v, at);
    if (!text)
        return std::unexpected(text.error());
    auto prefix = Prefix::parse(*text);
    if (!prefix)
        return o.fail(at, fmt::format("\"{}\" is not an IPv4 or IPv6 prefix (like \"10.1.0.0/24\")", *text));
    if (prefix->has_host_bits())
        return o.fail(at, fmt::format("\"{}\" has host bits set; did you mean \"{}\"?", *text, prefix->network().str()));
    return *prefix;
}

Parsed<std::vector<Prefix>> read_subnets(const Origin& o, const json& v, const std::string& at)
{
    if (!v.is_array())
        return o.fail(at, fmt::format("expected an array of prefixes, got {} ({})", type_name(v), brief(v)));
    if (v.empty())
        return o.fail(at, "the list is empty; leave the field out to protect the address itself");
    std::vector<Prefix> subnets;
    for (std::size_t i = 0; i < v.size(); ++i) {
        std::string where = pointer_append(at, std::to_string(i));
        auto p = read_prefix(o, v[i], where);
        if (!p)
            return std::unexpected(p.error());
        for (const auto& seen : subnets)
            if (seen == *p)
                return o.fail(where, fmt::format("\"{}\" is listed twice", p->str()));
        subnets.push_back(*p);
    }
    return subnets;
}

Parsed<Endpoint> read_endpoint(const Origin& o, const json& tunnel, const std::string& key)
{
    auto object = require_object(o, tunnel, key, "");
    if (!object)
        return std::unexpected(object.error());
    std::string at = "/" + key;
    if (auto ok = check_keys(o, **object, at, {"address", "subnets"}); !ok)
        return std::unexpected(ok.error());
    const json* address = find_member(**object, "address");
    if (!address)
        return o.fail(at, "missing field \"address\"");
    Endpoint e;
    auto parsed = read_address(o, *address, at + "/address");
    if (!parsed)
        return std::unexpected(parsed.error());
    e.address = *parsed;
    if (const json* subnets = find_member(**object, "subnets")) {
        auto list = read_subnets(o, *subnets, at + "/subnets");
        if (!list)
            return std::unexpected(list.error());
        e.subnets = std::move(*list);
    }
    return e;
}

Parsed<void> check_transport_subnets(const Origin& o, const Endpoint& e, const std::string& at)
{
    if (e.subnets.empty() || (e.subnets.size() == 1 && e.subnets[0] == Prefix::host(e.address)))
        return {};
    return o.fail(at, "transport mode protects only the traffic between the two addresses: leave \"subnets\" "
                      "out, or use \"mode\": \"tunnel\"");
}

Parsed<void> check_tunnel_pairs(const Origin& o, const Tunnel& t)
{
    for (const auto& l : t.local.subnets)
        for (const auto& r : t.remote.subnets)
            if (l.address.family == r.address.family)
                return {};
    return o.fail("/remote/subnets", "no remote subnet has the family of a local subnet: every protected pair "
                                     "needs one IPv4 or IPv6 prefix on each side");
}

Parsed<void> read_endpoints(const Origin& o, const json& j, Tunnel& t)
{
    auto local = read_endpoint(o, j, "local");
    if (!local)
        return std::unexpected(local.error());
    auto remote = read_endpoint(o, j, "remote");
    if (!remote)
        return std::unexpected(remote.error());
    t.local = std::move(*local);
    t.remote = std::move(*remote);
    if (t.local.address.family != t.remote.address.family)
        return o.fail("/remote/address", fmt::format("{} is {} but the local address {} is {}: both ends must be "
                                                     "of one family",
                                                     t.remote.address.str(), family_name(t.remote.address.family),
                                                     t.local.address.str(), family_name(t.local.address.family)));
    if (t.local.address == t.remote.address)
        return o.fail("/remote/address", "the remote address is the local address");
    if (t.mode == netlink::Mode::transport) {
        if (auto ok = check_transport_subnets(o, t.local, "/local/subnets"); !ok)
            return ok;
        if (auto ok = check_transport_subnets(o, t.remote, "/remote/subnets"); !ok)
            return ok;
    }
    // A route-based tunnel carries whatever is routed into its interface.
    for (auto* e : {&t.local, &t.remote})
        if (e->subnets.empty()) {
            if (t.interface)
                e->subnets = {*Prefix::parse("0.0.0.0/0"), *Prefix::parse("::/0")};
            else
                e->subnets.push_back(Prefix::host(e->address));
        }
    return check_tunnel_pairs(o, t);
}

// Runs each step while the ones before it succeeded.
template <typename... Steps>
Parsed<void> in_order(Steps&&... steps)
{
    Parsed<void> result;
    (void)((result = steps(), result.has_value()) && ...);
    return result;
}

Parsed<void> read_kind(const Origin& o, const json& j, Tunnel& t)
{
    if (const json* v = find_member(j, "mode")) {
        auto mode = read_choice(o, *v, "/mode", {"tunnel", "transport"});
        if (!mode)
            return std::unexpected(mode.error());
        t.mode = *mode == "tunnel" ? netlink::Mode::tunnel : netlink::Mode::transport;
    }
    if (const json* v = find_member(j, "protocol")) {
        auto protocol = read_choice(o, *v, "/protocol", {"esp", "ah", "ah+esp"});
        if (!protocol)
            return std::unexpected(protocol.error());
        t.protocol = *protocol == "esp" ? Protocol::esp : *protocol == "ah" ? Protocol::ah : Protocol::ah_esp;
    }
    return {};
}

Parsed<void> read_numbers(const Origin& o, const json& j, Tunnel& t)
{
    if (const json* v = find_member(j, "replay_window")) {
        auto window = read_uint(o, *v, "/replay_window", 0, 4096); // XFRMA_REPLAY_ESN_MAX bits
        if (!window)
            return std::unexpected(window.error());
        t.replay_window = static_cast<std::uint32_t>(*window);
    }
    if (const json* v = find_member(j, "priority")) {
        auto priority = read_uint(o, *v, "/priority", 0, 0xffffffff);
        if (!priority)
            return std::unexpected(priority.error());
        t.priority = static_cast<std::uint32_t>(*priority);
    }
    return {};
}

// A VTI marks the packets it carries with its key; a mark of the
// definition's own would fight it.
Parsed<void> check_mark_use(const Origin& o, const Tunnel& t)
{
    if (t.mark && t.interface && t.interface->kind == netlink::LinkKind::vti)
        return o.fail("/mark", "a VTI marks its packets with its own key: leave \"mark\" out, or use \"kind\": \"xfrm\"");
    return {};
}

} // namespace

Parsed<Tunnel> read_tunnel(const std::string& name, const json& j, const Origin& o,
                           const std::filesystem::path& base_dir)
{
    Tunnel t;
    t.name = name;
    t.file = o.file();
    if (!j.is_object())
        return o.fail("", fmt::format("expected an object, got {} ({})", type_name(j), brief(j)));
    if (auto ok = check_keys(o, j, "", kTunnelFields); !ok)
        return std::unexpected(ok.error());
    if (const json* v = find_member(j, "state")) {
        auto state = read_choice(o, *v, "/state", {"present", "absent"});
        if (!state)
            return std::unexpected(state.error());
        t.present = *state == "present";
    }
    if (!t.present) // an absent tunnel needs nothing else: its key files may be gone
        return t;
    auto ok = in_order([&] { return read_kind(o, j, t); },
                       [&] { return read_interface(o, j, t); }, [&] { return read_endpoints(o, j, t); },
                       [&] { return read_traffic(o, j, t); }, [&] { return read_proposal(o, j, t); },
                       [&] { return read_keying(o, j, t, base_dir); }, [&] { return read_numbers(o, j, t); },
                       [&] { return read_options(o, j, t); }, [&] { return check_mark_use(o, t); },
                       [&] { return check_ikev2_fit(o, j, t); });
    if (!ok)
        return std::unexpected(ok.error());
    return t;
}

} // namespace xfrmctl::model
