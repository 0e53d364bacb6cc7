// Fingerprints of every manual key this host has installed (never the keys
// themselves), so that a manual AEAD key is never installed twice: a new
// SA restarts its sequence counter, and GCM or ChaCha20-Poly1305 must never
// see a nonce twice under one key (RFC 4106, RFC 7634).
#pragma once

#include "xfrmctl/util/result.hpp"

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <span>
#include <string>

namespace xfrmctl::state {

class KeyHistory {
public:
    // A missing file is a new, empty history, unless `expected` (the state
    // directory shows one was kept there): then it is refused as a damaged
    // one is, since a used AEAD key could otherwise be installed again.
    static Result<KeyHistory> load(const std::filesystem::path& state_dir, bool expected = false);
    Status save(const std::filesystem::path& state_dir) const;

    // HMAC-SHA-256 under this host's random salt: a fingerprint tells
    // nothing about the key, and cannot be matched across hosts.
    std::string fingerprint(std::span<const std::uint8_t> key) const;
    bool contains(const std::string& fingerprint) const { return installed_.contains(fingerprint); }
    void forget(const std::string& fingerprint)
    {
        installed_.erase(fingerprint);
        pending_.erase(fingerprint);
    }

    // Written ahead of the request that installs SA `sa` (SaId::key()): a
    // run killed before the kernel's answer leaves it pending.
    void record_pending(const std::string& fingerprint, const std::string& what, const std::string& sa);
    // The kernel took it: the key is used.
    void confirm(const std::string& fingerprint);
    bool has_pending() const { return !pending_.empty(); }
    // Settles what runs that did not finish left pending: a key whose SA is
    // in the kernel was taken, so it is used; one whose SA is not, while the
    // kernel has not restarted since (same boot id), was never taken and is
    // forgotten; after a restart nobody can tell, so it counts as used.
    // Returns whether anything changed.
    bool settle(const std::function<bool(const std::string& sa)>& in_kernel);

private:
    struct Pending {
        std::string what, sa, boot;
    };
    std::string salt_; // hex
    std::string boot_; // /proc/sys/kernel/random/boot_id, at load
    std::map<std::string, std::string> installed_; // fingerprint -> "tunnel spi, when"
    std::map<std::string, Pending> pending_;       // fingerprint -> what was being installed
};

} // namespace xfrmctl::state
