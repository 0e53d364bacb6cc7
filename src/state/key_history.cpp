#include "xfrmctl/state/key_history.hpp"

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

constexpr const char* kFile = "installed-keys.json";

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

} // namespace

Result<KeyHistory> KeyHistory::load(const std::filesystem::path& state_dir)
{
    auto path = state_dir / kFile;
    auto text = read_optional_file(path);
    if (!text)
        return fail(text.error());
    KeyHistory history;
    if (!*text) {
        auto salt = new_salt();
        if (!salt)
            return fail(salt.error());
        history.salt_ = *salt;
        return history;
    }
    try {
        json doc = json::parse(**text);
        history.salt_ = doc.at("salt").get<std::string>();
        for (const auto& [fp, what] : doc.at("installed").items())
            history.installed_[fp] = what.get<std::string>();
    } catch (const json::exception& e) {
        // Without it, reinstalling a used AEAD key could not be refused.
        return fail(path.string() + " is damaged (" + e.what() + "); manual AEAD keys cannot be checked for "
                    "reuse until it is restored");
    }
    return history;
}

Status KeyHistory::save(const std::filesystem::path& state_dir) const
{
    json doc = {{"version", 1}, {"salt", salt_}, {"installed", installed_}};
    return write_file_atomically(state_dir / kFile, doc.dump(1) + "\n");
}

std::string KeyHistory::fingerprint(std::span<const std::uint8_t> key) const
{
    std::uint8_t mac[EVP_MAX_MD_SIZE];
    unsigned int size = 0;
    HMAC(EVP_sha256(), salt_.data(), static_cast<int>(salt_.size()), key.data(), key.size(), mac, &size);
    return to_hex({mac, size});
}

void KeyHistory::record(const std::string& fingerprint, const std::string& what)
{
    installed_.emplace(fingerprint, what + ", " + utc_timestamp());
}

} // namespace xfrmctl::state
