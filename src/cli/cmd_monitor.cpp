#include "context.hpp"
#include "xfrmctl/netlink/events.hpp"
#include "xfrmctl/state/ledger.hpp"
#include "xfrmctl/util/clock.hpp"

#include <fmt/format.h>
#include <sys/stat.h>

#include <cerrno>
#include <ctime>
#include <iostream>

namespace xfrmctl::cli {

namespace {

// The ledger, read again whenever apply or down has rewritten it, so that
// entries installed after the monitor started are recognised as ours.
class Owners {
public:
    explicit Owners(std::filesystem::path dir) : dir_(std::move(dir)) {}

    std::optional<std::string> owner(const netlink::Event& e)
    {
        refresh();
        if (e.sa)
            return ledger_.sa_owner(e.sa->id.key());
        if (e.policy)
            return ledger_.policy_owner(e.policy->id.key());
        return std::nullopt;
    }

private:
    void refresh()
    {
        struct stat st{};
        if (::stat((dir_ / "owned.json").c_str(), &st) != 0 || st.st_mtim.tv_nsec + st.st_mtim.tv_sec * 1000000000L == stamp_)
            return;
        stamp_ = st.st_mtim.tv_nsec + st.st_mtim.tv_sec * 1000000000L;
        if (auto l = state::Ledger::load(dir_))
            ledger_ = std::move(*l);
    }

    std::filesystem::path dir_;
    state::Ledger ledger_;
    long stamp_ = -1;
};

nlohmann::json event_json(const netlink::Event& e, const std::optional<std::string>& tunnel)
{
    nlohmann::json j = {{"time", utc_timestamp()}, {"event", netlink::event_name(e.kind)}, {"entry", e.describe()}};
    j["tunnel"] = tunnel ? nlohmann::json(*tunnel) : nlohmann::json();
    if (e.kind == netlink::EventKind::sa_expired || e.kind == netlink::EventKind::policy_expired)
        j["hard"] = e.hard;
    if (e.sa) {
        j["spi"] = fmt::format("0x{:08x}", e.sa->id.spi);
        j["src"] = e.sa->saddr.str();
        j["dst"] = e.sa->id.daddr.str();
        j["bytes"] = e.sa->counters.bytes;
        j["packets"] = e.sa->counters.packets;
    }
    if (e.flow)
        j["flow"] = e.flow->str();
    return j;
}

void print(const GlobalOptions& g, const netlink::Event& e, const std::optional<std::string>& tunnel)
{
    if (g.json)
        std::cout << event_json(e, tunnel).dump() << std::endl;
    else
        std::cout << utc_timestamp() << " " << (tunnel ? *tunnel : "-") << " " << e.describe() << std::endl;
}

bool flush_event(const netlink::Event& e)
{
    return e.kind == netlink::EventKind::sas_flushed || e.kind == netlink::EventKind::policies_flushed;
}

} // namespace

int run_monitor(const GlobalOptions& g, bool all, int count)
{
    auto socket = netlink::XfrmSocket::open(netlink::kEventGroups);
    if (!socket)
        return report_error(g, socket.error());
    Owners owners(g.state_dir);
    int shown = 0;
    Status failure;
    while (failure && (count <= 0 || shown < count)) {
        failure = socket->receive([&](const nlmsghdr* nlh) {
            auto event = netlink::parse_event(nlh);
            if (!event || !*event || (count > 0 && shown >= count))
                return;
            auto tunnel = owners.owner(**event);
            if (!all && !tunnel && !flush_event(**event))
                return;
            print(g, **event, tunnel);
            ++shown;
        });
        if (!failure && failure.error().errnum == ENOBUFS) { // say so, and go on
            warn("kernel events were lost (the receive buffer overflowed)");
            failure = {};
        }
    }
    return failure ? kOk : report_error(g, failure.error());
}

} // namespace xfrmctl::cli
