// The algorithms an operator may ask for, by the strongSwan keywords they
// already write, and what each means to the kernel.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace xfrmctl::model {

enum class ProposalKind { esp_aead, esp_cipher_integrity, ah_integrity };

struct KernelAlgorithm {
    std::string_view name; // the kernel's crypto name
    std::uint32_t key_bytes;
    std::uint32_t icv_bits; // ICV or truncated MAC; 0 for a plain cipher
};

struct Proposal {
    std::string_view keyword;
    ProposalKind kind;
    // AEAD: `first` is the AEAD (its key_bytes include the 4-byte salt).
    // Cipher+integrity: `first` is the cipher, `second` the integrity.
    // AH: `first` is the integrity.
    KernelAlgorithm first;
    std::optional<KernelAlgorithm> second;

    bool is_aead() const { return kind == ProposalKind::esp_aead; }
    bool is_esp() const { return kind != ProposalKind::ah_integrity; }
    std::uint32_t key_file_bytes() const { return first.key_bytes + (second ? second->key_bytes : 0); }
    std::string key_layout() const; // "a 32-byte key then a 4-byte salt"
};

const Proposal* find_proposal(std::string_view keyword);

// Why a keyword is not accepted, with the list of those that are.
std::string refuse_proposal(std::string_view keyword, bool for_esp);

} // namespace xfrmctl::model
