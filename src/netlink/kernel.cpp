#include "xfrmctl/netlink/kernel.hpp"

#include <cerrno>

namespace xfrmctl::netlink {

Result<Kernel> Kernel::open()
{
    auto socket = XfrmSocket::open();
    if (!socket)
        return fail(socket.error());
    return Kernel(std::move(*socket));
}

namespace {

template <typename Entry, typename Parse>
Result<std::vector<Entry>> dump_all(XfrmSocket& socket, const Request& request, Parse parse)
{
    std::vector<Entry> entries;
    auto ok = socket.dump(
        request, [&] { entries.clear(); },
        [&](const nlmsghdr* nlh) -> Status {
            auto entry = parse(nlh);
            if (!entry)
                return fail(entry.error());
            entries.push_back(std::move(*entry));
            return {};
        });
    if (!ok)
        return fail(ok.error());
    return entries;
}

} // namespace

Result<std::vector<SaEntry>> Kernel::sas() { return dump_all<SaEntry>(socket_, build_sa_dump(), parse_sa); }

Result<std::vector<PolicyEntry>> Kernel::policies()
{
    auto all = dump_all<PolicyEntry>(socket_, build_policy_dump(), parse_policy);
    if (!all)
        return all;
    // The dump also walks per-socket policies (directions past
    // XFRM_POLICY_MAX, see xfrm_sk_policy_link()): not SPD entries.
    std::erase_if(*all, [](const PolicyEntry& p) { return static_cast<int>(p.id.dir) >= XFRM_POLICY_MAX; });
    return all;
}

Result<Tables> Kernel::tables()
{
    auto sa_list = sas();
    if (!sa_list)
        return fail(sa_list.error());
    auto policy_list = policies();
    if (!policy_list)
        return fail(policy_list.error());
    auto spd = spd_info();
    if (!spd)
        return fail(spd.error());
    auto defaults = default_policy();
    if (!defaults)
        return fail(defaults.error());
    return Tables{std::move(*sa_list), std::move(*policy_list), *spd, *defaults};
}

Result<SpdInfo> Kernel::spd_info()
{
    auto reply = socket_.query(build_spd_info_get());
    if (!reply)
        return fail(reply.error());
    if (!*reply)
        return SpdInfo{};
    return parse_spd_info((*reply)->header());
}

Result<std::optional<DefaultPolicy>> Kernel::default_policy()
{
    auto reply = socket_.query(build_default_get());
    if (!reply && (reply.error().errnum == EINVAL || reply.error().errnum == EOPNOTSUPP))
        return std::optional<DefaultPolicy>(); // older than Linux 5.16
    if (!reply)
        return fail(reply.error());
    if (!*reply)
        return std::optional<DefaultPolicy>();
    auto p = parse_default((*reply)->header());
    if (!p)
        return fail(p.error());
    return std::optional(*p);
}

namespace {

template <typename Entry, typename Parse>
Result<std::optional<Entry>> query_one(XfrmSocket& socket, const Request& request, Parse parse)
{
    auto reply = socket.query(request);
    if (!reply)
        return fail(reply.error());
    if (!*reply)
        return std::optional<Entry>();
    auto entry = parse((*reply)->header());
    if (!entry)
        return fail(entry.error());
    return std::optional<Entry>(std::move(*entry));
}

} // namespace

Result<std::optional<SaEntry>> Kernel::sa(const SaId& id)
{
    return query_one<SaEntry>(socket_, build_sa_get(id), parse_sa);
}

Result<std::optional<PolicyEntry>> Kernel::policy(const PolicyId& id)
{
    return query_one<PolicyEntry>(socket_, build_policy_get(id), parse_policy);
}

Result<std::vector<Ack>> Kernel::execute(std::span<const Request> requests) { return socket_.transact(requests); }

} // namespace xfrmctl::netlink
