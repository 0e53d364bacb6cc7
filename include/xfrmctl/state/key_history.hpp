// Fingerprints of every manual key this host has installed (never the keys
// themselves), so that a manual AEAD key is never installed twice: a new
// SA restarts its sequence counter, and GCM or ChaCha20-Poly1305 must never
// see a nonce twice under one key (RFC 4106, RFC 7634).
#pragma once

#include "xfrmctl/util/result.hpp"

#include <cstdint>
#include <filesystem>
#include <map>
#include <span>
#include <string>

namespace xfrmctl::state {

class KeyHistory {
public:
    static Result<KeyHistory> load(const std::filesystem::path& state_dir);
    Status save(const std::filesystem::path& state_dir) const;

    // HMAC-SHA-256 under this host's random salt: a fingerprint tells
    // nothing about the key, and cannot be matched across hosts.
    std::string fingerprint(std::span<const std::uint8_t> key) const;
    bool contains(const std::string& fingerprint) const { return installed_.contains(fingerprint); }
    void record(const std::string& fingerprint, const std::string& what);
    void forget(const std::string& fingerprint) { installed_.erase(fingerprint); }

private:
    std::string salt_; // hex
    std::map<std::string, std::string> installed_; // fingerprint -> "tunnel spi, when"
};

} // namespace xfrmctl::state
