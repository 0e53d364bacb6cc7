#include "xfrmctl/model/psk.hpp"

#include <fmt/format.h>
#include <openssl/evp.h>

#include <algorithm>

namespace xfrmctl::model {

namespace {

int hex_value(std::uint8_t c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

bool has_prefix(std::span<const std::uint8_t> s, char second)
{
    return s.size() >= 2 && s[0] == '0' && (s[1] == second || s[1] == second - 'a' + 'A');
}

// One line end at most, LF or CRLF: never part of the key.
std::span<const std::uint8_t> without_line_end(std::span<const std::uint8_t> s)
{
    if (!s.empty() && s.back() == '\n')
        s = s.first(s.size() - 1);
    if (!s.empty() && s.back() == '\r')
        s = s.first(s.size() - 1);
    return s;
}

Result<Secret> from_hex(std::span<const std::uint8_t> digits, std::size_t offset)
{
    if (digits.size() % 2)
        return fail(fmt::format("an odd number of hex digits after 0x ({})", digits.size()));
    Secret key(digits.size() / 2);
    if (auto bad = decode_hex_digits(digits, key.data()))
        return fail(fmt::format("byte {} is not a hex digit (the file is 0x and hex digits)", *bad + offset + 1));
    return key;
}

Result<Secret> from_base64(std::span<const std::uint8_t> text)
{
    auto is_base64 = [](std::uint8_t c) { return std::isalnum(c) || c == '+' || c == '/' || c == '='; };
    auto bad = std::find_if_not(text.begin(), text.end(), is_base64);
    if (bad != text.end() || text.empty() || text.size() % 4)
        return fail(bad != text.end() ? fmt::format("byte {} is not base64 (the file is 0s and base64)", bad - text.begin() + 3)
                                      : std::string("the base64 after 0s is not a whole number of 4-character groups"));
    std::size_t padding = text.back() == '=' ? (text[text.size() - 2] == '=' ? 2 : 1) : 0;
    Secret decoded(text.size() / 4 * 3);
    int n = EVP_DecodeBlock(decoded.data(), text.data(), static_cast<int>(text.size()));
    if (n < 0 || static_cast<std::size_t>(n) < padding)
        return fail("the base64 after 0s does not decode");
    return Secret::copy_of(decoded.bytes().first(static_cast<std::size_t>(n) - padding));
}

Result<Secret> from_text(std::span<const std::uint8_t> text)
{
    auto printable = [](std::uint8_t c) { return c >= 0x20 && c <= 0x7e; };
    auto bad = std::find_if_not(text.begin(), text.end(), printable);
    if (bad != text.end())
        return fail(fmt::format("byte {} is not printable ASCII: a PSK file holds the key as text, as 0x and hex "
                                "digits, or as 0s and base64 (a binary key, such as head -c 32 /dev/urandom makes, "
                                "is written in hex: see xfrmctl.json(5))",
                                bad - text.begin() + 1));
    return Secret::copy_of(text);
}

} // namespace

std::optional<std::size_t> decode_hex_digits(std::span<const std::uint8_t> digits, std::uint8_t* out)
{
    for (std::size_t i = 0; i + 1 < digits.size(); i += 2) {
        int high = hex_value(digits[i]), low = hex_value(digits[i + 1]);
        if (high < 0 || low < 0)
            return high < 0 ? i : i + 1;
        out[i / 2] = static_cast<std::uint8_t>(high << 4 | low);
    }
    return std::nullopt;
}

Result<Secret> decode_psk(std::span<const std::uint8_t> contents)
{
    auto line = without_line_end(contents);
    auto key = has_prefix(line, 'x')   ? from_hex(line.subspan(2), 2)
               : has_prefix(line, 's') ? from_base64(line.subspan(2))
                                       : from_text(line);
    if (key && key->size() < kMinPskBytes)
        return fail(fmt::format("holds {} bytes; a PSK needs at least {} (a short one is guessed offline "
                                "from one captured exchange)",
                                key->size(), kMinPskBytes));
    return key;
}

} // namespace xfrmctl::model
