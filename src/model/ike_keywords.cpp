#include "ike_keywords.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <vector>

namespace xfrmctl::model {

namespace {

enum class Token { aead, cipher, integrity, prf, dh, esn };

struct Keyword {
    std::string_view name;
    Token kind;
};

// strongSwan's names (src/libstrongswan/crypto/proposal/proposal_keywords_static.txt),
// the ones with at least 128-bit strength and no known weakness.
constexpr std::array kKeywords = {
    Keyword{"aes128gcm16", Token::aead},    Keyword{"aes192gcm16", Token::aead},
    Keyword{"aes256gcm16", Token::aead},    Keyword{"chacha20poly1305", Token::aead},
    Keyword{"aes128", Token::cipher},       Keyword{"aes192", Token::cipher},
    Keyword{"aes256", Token::cipher},       Keyword{"aes128ctr", Token::cipher},
    Keyword{"aes256ctr", Token::cipher},    Keyword{"sha256", Token::integrity},
    Keyword{"sha384", Token::integrity},    Keyword{"sha512", Token::integrity},
    Keyword{"prfsha256", Token::prf},       Keyword{"prfsha384", Token::prf},
    Keyword{"prfsha512", Token::prf},       Keyword{"x25519", Token::dh},
    Keyword{"x448", Token::dh},             Keyword{"ecp256", Token::dh},
    Keyword{"ecp384", Token::dh},           Keyword{"ecp521", Token::dh},
    Keyword{"ecp256bp", Token::dh},         Keyword{"ecp384bp", Token::dh},
    Keyword{"ecp512bp", Token::dh},         Keyword{"modp3072", Token::dh},
    Keyword{"modp4096", Token::dh},         Keyword{"modp6144", Token::dh},
    Keyword{"modp8192", Token::dh},         Keyword{"esn", Token::esn},
    Keyword{"noesn", Token::esn},
};

// Names strongSwan accepts that we refuse, for a better message than "unknown".
constexpr std::array<std::string_view, 17> kWeak = {
    "des",  "3des", "cast128",  "blowfish", "null",     "md5",        "sha1",   "sha",    "aesxcbc",
    "modp768", "modp1024", "modp1536", "modp2048", "modp1024s160", "ecp192", "ecp224", "prfsha1"};

std::vector<std::string_view> split(std::string_view text)
{
    std::vector<std::string_view> tokens;
    while (true) {
        auto dash = text.find('-');
        tokens.push_back(text.substr(0, dash));
        if (dash == std::string_view::npos)
            return tokens;
        text.remove_prefix(dash + 1);
    }
}

const Keyword* lookup(std::string_view token)
{
    auto it = std::find_if(kKeywords.begin(), kKeywords.end(), [&](const Keyword& k) { return k.name == token; });
    return it == kKeywords.end() ? nullptr : &*it;
}

struct Tally {
    int aead = 0, cipher = 0, integrity = 0, prf = 0, dh = 0, esn = 0;
    void add(Token t)
    {
        int* slots[] = {&aead, &cipher, &integrity, &prf, &dh, &esn};
        ++*slots[static_cast<int>(t)];
    }
};

std::optional<std::string> check_shape(std::string_view text, const Tally& n, ProposalFor use)
{
    if (n.aead + n.cipher != 1)
        return fmt::format("\"{}\" needs exactly one encryption algorithm (like aes256gcm16 or aes256)", text);
    if (n.cipher && !n.integrity)
        return fmt::format("\"{}\" has a cipher without integrity: add one (like sha256) or use an AEAD "
                           "(aes256gcm16)", text);
    if (n.aead && n.integrity)
        return fmt::format("\"{}\" adds integrity to an AEAD, which has its own", text);
    if (use == ProposalFor::ike) {
        if (n.esn)
            return fmt::format("\"{}\": esn is for ESP proposals", text);
        if (!n.dh)
            return fmt::format("\"{}\" has no key exchange group (like x25519)", text);
        if (n.aead && !n.prf)
            return fmt::format("\"{}\" has no PRF: an AEAD IKE proposal needs one (like prfsha384)", text);
    } else if (n.prf) {
        return fmt::format("\"{}\": PRFs are for IKE proposals", text);
    }
    return std::nullopt;
}

} // namespace

std::optional<std::string> check_strongswan_proposal(std::string_view text, ProposalFor use)
{
    Tally tally;
    for (std::string_view token : split(text)) {
        if (std::find(kWeak.begin(), kWeak.end(), token) != kWeak.end())
            return fmt::format("\"{}\" in \"{}\" is too weak; use aes256gcm16, chacha20poly1305, sha256 or better, "
                               "x25519 or ecp256 and up",
                               token, text);
        const Keyword* k = lookup(token);
        if (!k)
            return fmt::format("unknown algorithm \"{}\" in \"{}\" (strongSwan keywords like "
                               "aes256gcm16-prfsha384-x25519)",
                               token, text);
        tally.add(k->kind);
    }
    return check_shape(text, tally, use);
}

std::optional<std::string> dh_group_of(std::string_view text)
{
    for (std::string_view token : split(text))
        if (const Keyword* k = lookup(token); k && k->kind == Token::dh)
            return std::string(token);
    return std::nullopt;
}

} // namespace xfrmctl::model
