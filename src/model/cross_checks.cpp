#include "cross_checks.hpp"

#include <fmt/format.h>

#include <map>

namespace xfrmctl::model {

namespace {

struct Place {
    std::string file, path;
    std::string str() const { return path + " in " + file; }
};

// Remembers the first place each key was seen; a second sighting is an error.
class Registry {
public:
    std::optional<Place> claim(const std::string& key, Place place)
    {
        auto [it, fresh] = seen_.emplace(key, std::move(place));
        return fresh ? std::nullopt : std::optional(it->second);
    }

private:
    std::map<std::string, Place> seen_;
};

// The kernel knows an SA by its destination, SPI and protocol
// (__xfrm_state_lookup): two SAs may not share them.
Parsed<void> check_sa_identities(const Tunnel& t, Registry& sas, Registry& key_files)
{
    Parsed<void> result;
    for_each_key(t, [&](const KeyRef& ref, Protocol proto, bool outbound) {
        if (!result)
            return;
        const IpAddress& daddr = outbound ? t.remote.address : t.local.address;
        std::string id = fmt::format("{} {} 0x{:x}", protocol_name(proto), daddr.str(), ref.spi);
        if (auto first = sas.claim(id, {t.file, ref.path + "/spi"}))
            result = std::unexpected(Diagnostic{t.file, ref.path + "/spi",
                                                fmt::format("SPI 0x{:08x} for {} to {} is already used by {}", ref.spi,
                                                            protocol_name(proto), daddr.str(), first->str())});
        else if (auto other = key_files.claim(std::filesystem::path(ref.key_file).lexically_normal().string(),
                                              {t.file, ref.path + "/key_file"}))
            result = std::unexpected(Diagnostic{t.file, ref.path + "/key_file",
                                                fmt::format("this key file is already used by {}: every SA needs a "
                                                            "key of its own",
                                                            other->str())});
    });
    return result;
}

// A policy's identity includes its mark and if_id (xfrm_policy_insert_list),
// so tunnels bound to different interfaces, or marks, may share selectors.
std::string selector_key(const Tunnel& t, const Prefix& local, const Prefix& remote)
{
    std::string key = local.str() + " " + remote.str();
    if (t.traffic)
        key += fmt::format(" proto {} {} {}", t.traffic->protocol, t.traffic->local_port, t.traffic->remote_port);
    if (t.mark)
        key += fmt::format(" mark {}/{}", t.mark->value, t.mark->mask);
    if (t.interface)
        key += " interface " + t.interface->name;
    return key;
}

// Policies are known by their selector (selector_cmp in xfrm_policy.c): two
// tunnels may not claim the same traffic.
Parsed<void> check_selectors(const Tunnel& t, Registry& selectors)
{
    for (std::size_t l = 0; l < t.local.subnets.size(); ++l)
        for (const auto& remote : t.remote.subnets) {
            const Prefix& local = t.local.subnets[l];
            if (local.address.family != remote.address.family)
                continue;
            if (auto first = selectors.claim(selector_key(t, local, remote), {t.file, t.path()}))
                return std::unexpected(Diagnostic{t.file, t.path() + "/local/subnets/" + std::to_string(l),
                                                  fmt::format("traffic {} -> {} is already protected by {}", local.str(),
                                                              remote.str(), first->str())});
        }
    return {};
}

Parsed<void> check_interfaces(const Tunnel& t, Registry& names)
{
    if (!t.interface)
        return {};
    if (auto first = names.claim(t.interface->name, {t.file, t.path() + "/interface/name"}))
        return std::unexpected(Diagnostic{t.file, t.path() + "/interface/name",
                                          fmt::format("interface {} is already used by {}", t.interface->name, first->str())});
    return {};
}

// Selectors that are everything on both sides, on a policy-based tunnel,
// take all of the host's traffic, to its own network and to the peer
// included: the host then reaches only itself. The host's bypass
// policies say what stays out; with none, it can only be a mistake.
Parsed<void> check_takes_everything(const Tunnel& t, const std::optional<HostSettings>& host)
{
    if (t.interface || (host && !host->bypass.empty()))
        return {};
    for (std::size_t l = 0; l < t.local.subnets.size(); ++l)
        for (const auto& remote : t.remote.subnets) {
            const Prefix& local = t.local.subnets[l];
            if (local.length == 0 && remote.length == 0 && local.address.family == remote.address.family)
                return std::unexpected(Diagnostic{
                    t.file, t.path() + "/local/subnets/" + std::to_string(l),
                    fmt::format("{} on both sides takes all of this host's traffic into the tunnel, so that the "
                                "host reaches only itself: narrow the subnets, use a route-based tunnel "
                                "(\"interface\"), or say in the host's \"bypass\" what stays outside",
                                local.str())});
        }
    return {};
}

} // namespace

Parsed<void> check_across_tunnels(const Definitions& defs)
{
    Registry sas, key_files, selectors, interfaces;
    for (const auto& t : defs.tunnels) {
        if (!t.present)
            continue;
        if (auto ok = check_sa_identities(t, sas, key_files); !ok)
            return ok;
        if (auto ok = check_selectors(t, selectors); !ok)
            return ok;
        if (auto ok = check_interfaces(t, interfaces); !ok)
            return ok;
        if (auto ok = check_takes_everything(t, defs.host); !ok)
            return ok;
    }
    return {};
}

} // namespace xfrmctl::model
