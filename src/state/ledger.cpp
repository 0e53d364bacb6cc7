#include "xfrmctl/state/ledger.hpp"

#include "whole_number.hpp"
#include "xfrmctl/model/json_reader.hpp"
#include "xfrmctl/util/files.hpp"

#include <linux/xfrm.h>
#include <nlohmann/json.hpp>

namespace xfrmctl::state {

using nlohmann::json;

namespace {

constexpr const char* kLedgerFile = "owned.json";

Result<OwnedTunnel> read_tunnel(const json& j)
{
    OwnedTunnel t;
    t.reqid = static_cast<std::uint32_t>(whole_number(j.at("reqid"), UINT32_MAX));
    for (const auto& key : j.at("sas"))
        t.sas.insert(key.get<std::string>());
    for (const auto& key : j.at("policies"))
        t.policies.insert(key.get<std::string>());
    if (j.contains("interface"))
        for (const auto& key : j.at("interface"))
            t.interface.insert(key.get<std::string>());
    return t;
}

} // namespace

bool Ledger::kept_in(const std::filesystem::path& state_dir)
{
    std::error_code ec;
    return std::filesystem::symlink_status(state_dir / kLedgerFile, ec).type() != std::filesystem::file_type::not_found &&
           !ec;
}

Result<Ledger> Ledger::load(const std::filesystem::path& state_dir)
{
    auto path = state_dir / kLedgerFile;
    auto text = read_optional_file(path);
    if (!text)
        return fail(text.error());
    Ledger ledger;
    if (!*text)
        return ledger;
    // Never guess what we own: a damaged record stops everything. Nothing
    // of it is quoted (a key may have been pasted or copied there): the
    // reader gives the place, json's type errors and whole_number the type.
    auto damaged = [&](const std::string& what) {
        return fail(path.string() + " is damaged (" + what + "); restore it from a backup or remove it "
                    "(then nothing in the kernel counts as ours)");
    };
    auto parsed = model::parse_json(**text, path.string());
    if (!parsed)
        return damaged(parsed.error().where());
    try {
        const json& doc = *parsed;
        if (doc.at("version") != 1)
            return fail(path.string() + ": unknown version");
        for (const auto& [name, j] : doc.at("tunnels").items())
            ledger.tunnels_[name] = *read_tunnel(j);
        if (doc.contains("retired"))
            for (const auto& key : doc.at("retired"))
                ledger.retired_.insert(key.get<std::string>());
        if (doc.contains("expired"))
            for (const auto& key : doc.at("expired"))
                ledger.expired_.insert(key.get<std::string>());
        if (doc.contains("saved_default_policy")) {
            const json& d = doc.at("saved_default_policy");
            auto action = [&](const char* dir) { return static_cast<std::uint8_t>(whole_number(d.at(dir), XFRM_USERPOLICY_ACCEPT)); };
            ledger.saved_default_ = netlink::DefaultPolicy{action("in"), action("fwd"), action("out")};
        }
    } catch (const std::exception& e) { // json's, and whole_number's
        return damaged(e.what());
    }
    ledger.reindex();
    return ledger;
}

Status Ledger::save(const std::filesystem::path& state_dir) const
{
    json tunnels = json::object();
    for (const auto& [name, t] : tunnels_) {
        if (t.empty())
            continue;
        tunnels[name] = {{"reqid", t.reqid}, {"sas", t.sas}, {"policies", t.policies}};
        if (!t.interface.empty())
            tunnels[name]["interface"] = t.interface;
    }
    json doc = {{"version", 1}, {"tunnels", tunnels}};
    if (!retired_.empty())
        doc["retired"] = retired_;
    if (!expired_.empty())
        doc["expired"] = expired_;
    if (saved_default_)
        doc["saved_default_policy"] = {{"in", saved_default_->in}, {"fwd", saved_default_->fwd}, {"out", saved_default_->out}};
    return write_file_atomically(state_dir / kLedgerFile, doc.dump(1) + "\n");
}

const OwnedTunnel* Ledger::find(const std::string& tunnel) const
{
    auto it = tunnels_.find(tunnel);
    return it == tunnels_.end() ? nullptr : &it->second;
}

void Ledger::reindex()
{
    sa_index_.clear();
    policy_index_.clear();
    interface_index_.clear();
    for (const auto& [name, t] : tunnels_) {
        for (const auto& key : t.sas)
            sa_index_[key] = name;
        for (const auto& key : t.policies)
            policy_index_[key] = name;
        for (const auto& key : t.interface)
            interface_index_[key] = name;
    }
}

namespace {

std::optional<std::string> lookup(const std::unordered_map<std::string, std::string>& index, const std::string& key)
{
    auto it = index.find(key);
    return it == index.end() ? std::nullopt : std::optional(it->second);
}

} // namespace

std::optional<std::string> Ledger::sa_owner(const std::string& key) const { return lookup(sa_index_, key); }

std::optional<std::string> Ledger::policy_owner(const std::string& key) const { return lookup(policy_index_, key); }

std::optional<std::string> Ledger::interface_owner(const std::string& key) const
{
    return lookup(interface_index_, key);
}

} // namespace xfrmctl::state
