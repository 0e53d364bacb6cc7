// What this controller owns in the kernel, remembered in the state
// directory: for each tunnel, its reqid and the identities (SaId::key(),
// PolicyId::key()) of the SAs and policies it installed. Anything not
// listed here is someone else's and is never changed.
#pragma once

#include "xfrmctl/netlink/spd.hpp"
#include "xfrmctl/util/result.hpp"

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>

namespace xfrmctl::state {

struct OwnedTunnel {
    std::uint32_t reqid = 0;
    std::set<std::string> sas;
    std::set<std::string> policies;
    std::set<std::string> interface; // plan::link_key(), address_key(), route_key()

    bool empty() const { return sas.empty() && policies.empty() && interface.empty(); }
};

class Ledger {
public:
    static Result<Ledger> load(const std::filesystem::path& state_dir);
    // Whether a ledger was ever saved there: the key history is saved
    // first, so with a ledger, the key history is expected as well.
    static bool kept_in(const std::filesystem::path& state_dir);
    Status save(const std::filesystem::path& state_dir) const;

    const std::map<std::string, OwnedTunnel>& tunnels() const { return tunnels_; }
    const OwnedTunnel* find(const std::string& tunnel) const;
    OwnedTunnel& at(const std::string& tunnel) { return tunnels_[tunnel]; }
    void erase(const std::string& tunnel) { tunnels_.erase(tunnel); }

    // The tunnel that owns an entry, by its identity key.
    std::optional<std::string> sa_owner(const std::string& key) const;
    std::optional<std::string> policy_owner(const std::string& key) const;
    std::optional<std::string> interface_owner(const std::string& key) const;
    // Call after changing tunnels through at() before asking for owners.
    void reindex();

    // Key generations whose inbound SAs xfrmd retired (plan::retirement_key()).
    const std::set<std::string>& retired() const { return retired_; }
    void retire(const std::string& key) { retired_.insert(key); }
    void unretire(const std::string& key) { retired_.erase(key); }

    // SAs (identity keys) whose hard lifetime ran out: never installed again,
    // whatever their algorithm; the key must be rolled (a new SPI).
    const std::set<std::string>& expired() const { return expired_; }
    void expire(const std::string& key) { expired_.insert(key); }

    // The kernel's default policy as it was before we first set one.
    const std::optional<netlink::DefaultPolicy>& saved_default() const { return saved_default_; }
    void save_default(std::optional<netlink::DefaultPolicy> p) { saved_default_ = p; }

private:
    std::map<std::string, OwnedTunnel> tunnels_;
    std::unordered_map<std::string, std::string> sa_index_, policy_index_, interface_index_;
    std::optional<netlink::DefaultPolicy> saved_default_;
    std::set<std::string> retired_;
    std::set<std::string> expired_;
};

} // namespace xfrmctl::state
