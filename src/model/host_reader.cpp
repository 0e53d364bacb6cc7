// "host": settings of the whole host rather than of one tunnel.
#include "host_reader.hpp"

#include "tunnel_reader.hpp"

#include <fmt/format.h>

namespace xfrmctl::model {

namespace {

Parsed<std::uint8_t> read_action(const Origin& o, const json& v, const std::string& at)
{
    auto action = read_choice(o, v, at, {"block", "accept"});
    if (!action)
        return std::unexpected(action.error());
    return static_cast<std::uint8_t>(*action == "block" ? XFRM_USERPOLICY_BLOCK : XFRM_USERPOLICY_ACCEPT);
}

// "block" or "accept" for every direction, or {"in": ..., "out": ..., "fwd": ...}
// (a direction left out accepts).
Parsed<netlink::DefaultPolicy> read_default_policy(const Origin& o, const json& v)
{
    const std::string at = "/default_policy";
    if (v.is_string()) {
        auto action = read_action(o, v, at);
        if (!action)
            return std::unexpected(action.error());
        return netlink::DefaultPolicy{*action, *action, *action};
    }
    if (!v.is_object())
        return o.fail(at, fmt::format("expected \"block\", \"accept\" or an object with in, out and fwd, got {} ({})",
                                      type_name(v), brief(v)));
    if (auto ok = check_keys(o, v, at, {"in", "fwd", "out"}); !ok)
        return std::unexpected(ok.error());
    netlink::DefaultPolicy p{XFRM_USERPOLICY_ACCEPT, XFRM_USERPOLICY_ACCEPT, XFRM_USERPOLICY_ACCEPT};
    for (auto [key, field] : {std::pair{"in", &p.in}, {"fwd", &p.fwd}, {"out", &p.out}})
        if (v.contains(key)) {
            auto action = read_action(o, v[key], at + "/" + key);
            if (!action)
                return std::unexpected(action.error());
            *field = *action;
        }
    return p;
}

Parsed<std::vector<Prefix>> read_side(const Origin& o, const json& entry, const char* key, const std::string& at)
{
    const json* v = find_member(entry, key);
    if (!v)
        return std::vector{*Prefix::parse("0.0.0.0/0"), *Prefix::parse("::/0")};
    std::vector<Prefix> list;
    const json single = json::array({*v});
    const json& items = v->is_array() ? *v : single;
    for (std::size_t i = 0; i < items.size(); ++i) {
        std::string where = at + "/" + key + (v->is_array() ? "/" + std::to_string(i) : "");
        auto text = read_string(o, items[i], where);
        if (!text)
            return std::unexpected(text.error());
        auto p = Prefix::parse(*text);
        if (!p || p->has_host_bits())
            return o.fail(where, fmt::format("\"{}\" is not a prefix without host bits (like \"192.0.2.0/24\")", *text));
        list.push_back(*p);
    }
    return list;
}

Parsed<Bypass> read_bypass(const Origin& o, const json& v, const std::string& at)
{
    if (!v.is_object())
        return o.fail(at, fmt::format("expected an object, got {} ({})", type_name(v), brief(v)));
    if (auto ok = check_keys(o, v, at, {"local", "remote", "traffic", "priority"}); !ok)
        return std::unexpected(ok.error());
    Bypass b;
    b.path = at;
    for (auto [key, side] : {std::pair{"local", &b.local}, {"remote", &b.remote}}) {
        auto list = read_side(o, v, key, at);
        if (!list)
            return std::unexpected(list.error());
        *side = std::move(*list);
    }
    if (const json* t = find_member(v, "traffic")) {
        auto traffic = parse_traffic(o, *t, at + "/traffic");
        if (!traffic)
            return std::unexpected(traffic.error());
        b.traffic = *traffic;
    }
    if (const json* p = find_member(v, "priority")) {
        auto priority = read_uint(o, *p, at + "/priority", 0, 0xffffffff);
        if (!priority)
            return std::unexpected(priority.error());
        b.priority = static_cast<std::uint32_t>(*priority);
    }
    return b;
}

} // namespace

Parsed<HostSettings> read_host(const json& v, const std::string& file)
{
    Origin o(file, "/host", &v, nullptr);
    if (!v.is_object())
        return o.fail("", fmt::format("expected an object, got {} ({})", type_name(v), brief(v)));
    if (auto ok = check_keys(o, v, "", {"default_policy", "bypass"}); !ok)
        return std::unexpected(ok.error());
    HostSettings host;
    host.file = file;
    if (const json* p = find_member(v, "default_policy")) {
        auto policy = read_default_policy(o, *p);
        if (!policy)
            return std::unexpected(policy.error());
        host.default_policy = *policy;
    }
    if (const json* list = find_member(v, "bypass")) {
        if (!list->is_array())
            return o.fail("/bypass", fmt::format("expected an array, got {} ({})", type_name(*list), brief(*list)));
        for (std::size_t i = 0; i < list->size(); ++i) {
            auto b = read_bypass(o, (*list)[i], "/bypass/" + std::to_string(i));
            if (!b)
                return std::unexpected(b.error());
            b->path = "/host" + b->path;
            host.bypass.push_back(std::move(*b));
        }
    }
    return host;
}

} // namespace xfrmctl::model
