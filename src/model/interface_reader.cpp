// "interface": a route-based tunnel's XFRM interface or VTI.
#include "tunnel_reader.hpp"

#include <fmt/format.h>

#include <regex>

namespace xfrmctl::model {

namespace {

Parsed<std::vector<Prefix>> read_prefix_list(const Origin& o, const json& v, const std::string& at, bool host_bits)
{
    if (!v.is_array())
        return o.fail(at, fmt::format("expected an array of prefixes, got {} ({})", type_name(v), brief(v)));
    std::vector<Prefix> list;
    for (std::size_t i = 0; i < v.size(); ++i) {
        std::string where = pointer_append(at, std::to_string(i));
        auto text = read_string(o, v[i], where);
        if (!text)
            return std::unexpected(text.error());
        auto p = Prefix::parse(*text);
        if (!p || (host_bits && text->find('/') == std::string::npos))
            return o.fail(where, fmt::format("\"{}\" is not an address with its prefix length (like \"169.254.0.1/30\")", *text));
        if (!host_bits && p->has_host_bits())
            return o.fail(where, fmt::format("\"{}\" has host bits set; did you mean \"{}\"?", *text, p->network().str()));
        list.push_back(*p);
    }
    return list;
}

Parsed<void> read_identity(const Origin& o, const json& v, Interface& i)
{
    static const std::regex valid_name("[A-Za-z0-9._-]{1,15}");
    if (!v.contains("name"))
        return o.fail("/interface", "missing field \"name\"");
    auto name = read_string(o, v["name"], "/interface/name");
    if (!name)
        return std::unexpected(name.error());
    if (!std::regex_match(*name, valid_name) || *name == "." || *name == "..")
        return o.fail("/interface/name", fmt::format("\"{}\" is not an interface name: 1 to 15 of A-Z a-z 0-9 . _ -", *name));
    i.name = *name;
    if (v.contains("kind")) {
        auto kind = read_choice(o, v["kind"], "/interface/kind", {"xfrm", "vti"});
        if (!kind)
            return std::unexpected(kind.error());
        i.kind = *kind == "xfrm" ? netlink::LinkKind::xfrm : netlink::LinkKind::vti;
    }
    if (v.contains("id")) {
        auto id = read_uint(o, v["id"], "/interface/id", 1, 0xffffffff);
        if (!id)
            return std::unexpected(id.error());
        i.id = static_cast<std::uint32_t>(*id);
    }
    return {};
}

} // namespace

Parsed<void> read_interface(const Origin& o, const json& j, Tunnel& t)
{
    const json* v = find_member(j, "interface");
    if (!v)
        return {};
    if (!v->is_object())
        return o.fail("/interface", fmt::format("expected an object with at least \"name\", got {} ({})", type_name(*v), brief(*v)));
    if (auto ok = check_keys(o, *v, "/interface", {"name", "kind", "id", "addresses", "routes", "mtu"}); !ok)
        return ok;
    if (t.mode != netlink::Mode::tunnel)
        return o.fail("/interface", "a route-based tunnel is a tunnel: \"mode\" must be \"tunnel\"");
    Interface i;
    if (auto ok = read_identity(o, *v, i); !ok)
        return ok;
    for (auto [key, list, host_bits] : {std::tuple{"addresses", &i.addresses, true}, {"routes", &i.routes, false}})
        if (v->contains(key)) {
            auto read = read_prefix_list(o, (*v)[key], std::string("/interface/") + key, host_bits);
            if (!read)
                return std::unexpected(read.error());
            *list = std::move(*read);
        }
    if (v->contains("mtu")) {
        auto mtu = read_uint(o, (*v)["mtu"], "/interface/mtu", 576, 65535);
        if (!mtu)
            return std::unexpected(mtu.error());
        i.mtu = static_cast<std::uint32_t>(*mtu);
    }
    t.interface = std::move(i);
    return {};
}

} // namespace xfrmctl::model
