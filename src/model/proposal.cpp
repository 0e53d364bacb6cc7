#include "xfrmctl/model/proposal.hpp"

#include <fmt/format.h>

#include <array>

namespace xfrmctl::model {

namespace {

constexpr std::uint32_t kSalt = 4; // RFC 4106 / RFC 7634: the key file ends in a 4-byte salt

const std::array kProposals = {
    Proposal{"aes128gcm16", ProposalKind::esp_aead, {"rfc4106(gcm(aes))", 16 + kSalt, 128}, {}},
    Proposal{"aes256gcm16", ProposalKind::esp_aead, {"rfc4106(gcm(aes))", 32 + kSalt, 128}, {}},
    Proposal{"chacha20poly1305", ProposalKind::esp_aead, {"rfc7539esp(chacha20,poly1305)", 32 + kSalt, 128}, {}},
    Proposal{"aes128-sha256", ProposalKind::esp_cipher_integrity, {"cbc(aes)", 16, 0},
             KernelAlgorithm{"hmac(sha256)", 32, 128}},
    Proposal{"aes256-sha256", ProposalKind::esp_cipher_integrity, {"cbc(aes)", 32, 0},
             KernelAlgorithm{"hmac(sha256)", 32, 128}},
    Proposal{"aes256-sha512", ProposalKind::esp_cipher_integrity, {"cbc(aes)", 32, 0},
             KernelAlgorithm{"hmac(sha512)", 64, 256}},
    // RFC 4868: HMAC-SHA-2 truncated to half its output.
    Proposal{"sha256", ProposalKind::ah_integrity, {"hmac(sha256)", 32, 128}, {}},
    Proposal{"sha384", ProposalKind::ah_integrity, {"hmac(sha384)", 48, 192}, {}},
    Proposal{"sha512", ProposalKind::ah_integrity, {"hmac(sha512)", 64, 256}, {}},
};

// Names that strongSwan knows but that no longer protect anything.
constexpr std::array<std::string_view, 9> kWeakParts = {"des", "md5", "sha1", "null", "rc4",
                                                        "blowfish", "cast", "aesxcbc", "3des"};

std::string accepted(bool for_esp)
{
    std::string list;
    for (const auto& p : kProposals) {
        if (p.is_esp() != for_esp)
            continue;
        list += (list.empty() ? "" : ", ") + std::string(p.keyword);
    }
    return list;
}

} // namespace

std::string Proposal::key_layout() const
{
    if (is_aead())
        return fmt::format("a {}-byte key then a {}-byte salt", first.key_bytes - kSalt, kSalt);
    if (second)
        return fmt::format("a {}-byte cipher key then a {}-byte integrity key", first.key_bytes, second->key_bytes);
    return fmt::format("a {}-byte integrity key", first.key_bytes);
}

const Proposal* find_proposal(std::string_view keyword)
{
    for (const auto& p : kProposals)
        if (p.keyword == keyword)
            return &p;
    return nullptr;
}

std::string refuse_proposal(std::string_view keyword, bool for_esp)
{
    const char* protocol = for_esp ? "esp" : "ah";
    if (const Proposal* p = find_proposal(keyword))
        return fmt::format("\"{}\" is an {} proposal, not {}; accepted for {}: {}", keyword,
                           p->is_esp() ? "esp" : "ah", protocol, protocol, accepted(for_esp));
    for (auto weak : kWeakParts)
        if (keyword.find(weak) != std::string_view::npos)
            return fmt::format("\"{}\" is refused as weak ({}); accepted for {}: {}", keyword, weak, protocol,
                               accepted(for_esp));
    return fmt::format("unknown proposal \"{}\"; accepted for {}: {}", keyword, protocol, accepted(for_esp));
}

} // namespace xfrmctl::model
