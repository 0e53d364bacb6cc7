#include "xfrmctl/state/key_history.hpp"

#include "xfrmctl/model/json_reader.hpp"
#include "xfrmctl/util/clock.hpp"
#include "xfrmctl/util/files.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <ctime>

namespace xfrmctl::state {

using nlohmann::json;

namespace {

constexpr const char* kKeyHistoryFile = "installed-keys.json";

std::string to_hex(std::span<const std::uint8_t> bytes)
{
    std::string hex;
    for (auto b : bytes)
        hex += fmt::format("{:02x}", b);
    return hex;
}

Result<std::string> new_salt()
{
    std::uint8_t salt[32];
    if (RAND_bytes(salt, sizeof salt) != 1)
        return fail("cannot get random bytes for the key fingerprint salt");
    return to_hex(salt);
}

// Tells one run of the kernel from the next: a pending key is only judged
// by the SAs of the kernel it was sent to.
std::string boot_id()
{
    auto text = read_optional_file("/proc/sys/kernel/random/boot_id");
    if (!text || !*text)
        return "unknown";
    std::string id = **text;
    while (!id.empty() && (id.back() == '\n' || id.back() == ' '))
        id.pop_back();
    return id;
}

} // namespace

Result<KeyHistory> KeyHistory::load(const std::filesystem::path& state_dir, bool expected)
{
    auto path = state_dir / kKeyHistoryFile;
    auto text = read_optional_file(path);
    if (!text)
        return fail(text.error());
    if (!*text && expected)
        return fail(path.string() + " is missing, although the state directory shows it was kept: without it a used "
                    "manual AEAD key could be installed again. Restore it from a backup, or, once every manual AEAD "
                    "key in the definitions is new, start a new record with --forget-installed-keys");
    KeyHistory history;
    history.boot_ = boot_id();
    if (!*text) {
        auto salt = new_salt();
        if (!salt)
            return fail(salt.error());
        history.salt_ = *salt;
        return history;
    }
    // Without it, reinstalling a used AEAD key could not be refused. Nothing
    // of it is quoted: the reader gives the place, json's type errors the type.
    auto damaged = [&](const std::string& what) {
        return fail(path.string() + " is damaged (" + what + "); manual AEAD keys cannot be checked for reuse until "
                    "it is restored (or moved aside, and a new record started with --forget-installed-keys once "
                    "every manual AEAD key in the definitions is new)");
    };
    auto parsed = model::parse_json(**text, path.string());
    if (!parsed)
        return damaged(parsed.error().where());
    try {
        const json& doc = *parsed;
        history.salt_ = doc.at("salt").get<std::string>();
        for (const auto& [fp, what] : doc.at("installed").items())
            history.installed_[fp] = what.get<std::string>();
        json pending = doc.value("pending", json::object());
        for (const auto& [fp, p] : pending.items())
            history.pending_[fp] = {p.at("what").get<std::string>(), p.at("sa").get<std::string>(),
                                    p.at("boot").get<std::string>()};
    } catch (const json::exception& e) {
        return damaged(e.what());
    }
    return history;
}

Status KeyHistory::save(const std::filesystem::path& state_dir) const
{
    json pending = json::object();
    for (const auto& [fp, p] : pending_)
        pending[fp] = {{"what", p.what}, {"sa", p.sa}, {"boot", p.boot}};
    json doc = {{"version", 1}, {"salt", salt_}, {"installed", installed_}, {"pending", pending}};
    return write_file_atomically(state_dir / kKeyHistoryFile, doc.dump(1) + "\n");
}

std::string KeyHistory::fingerprint(std::span<const std::uint8_t> key) const
{
    std::uint8_t mac[EVP_MAX_MD_SIZE];
    unsigned int size = 0;
    HMAC(EVP_sha256(), salt_.data(), static_cast<int>(salt_.size()), key.data(), key.size(), mac, &size);
    return to_hex({mac, size});
}

void KeyHistory::record_pending(const std::string& fingerprint, const std::string& what, const std::string& sa)
{
    pending_[fingerprint] = {what + ", " + utc_timestamp(), sa, boot_};
}

void KeyHistory::confirm(const std::string& fingerprint)
{
    auto it = pending_.find(fingerprint);
    if (it == pending_.end())
        return;
    installed_.emplace(fingerprint, it->second.what);
    pending_.erase(it);
}

bool KeyHistory::settle(const std::function<bool(const std::string& sa)>& in_kernel)
{
    bool changed = false;
    for (auto it = pending_.begin(); it != pending_.end();) {
        const Pending& p = it->second;
        bool used = in_kernel(p.sa) || p.boot != boot_;
        if (used)
            installed_.emplace(it->first, p.what);
        it = pending_.erase(it);
        changed = true;
    }
    return changed;
}

} // namespace xfrmctl::state
