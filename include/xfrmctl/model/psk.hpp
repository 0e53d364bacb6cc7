// The PSK file's format. It is text, so that no byte of a key can be taken
// for a line end: strongSwan's notation for a secret ("0x" and hex digits,
// "0s" and base64, or the key itself as printable ASCII), on one line, the
// line end (LF or CRLF) optional and never part of the key. A file with
// other bytes (a binary key, from head -c 32 /dev/urandom) is refused: its
// final 0x0a or 0x0d would be indistinguishable from a line end.
#pragma once

#include "xfrmctl/util/result.hpp"
#include "xfrmctl/util/secret.hpp"

#include <cstdint>
#include <optional>
#include <span>

namespace xfrmctl::model {

inline constexpr std::size_t kMinPskBytes = 16;

// The key a PSK file's contents stand for. The error says what is wrong by
// position, never by the bytes (they could be the key).
Result<Secret> decode_psk(std::span<const std::uint8_t> contents);

// Hex digits to bytes, half as many, into `out`: the index of the first
// digit that is not hex, if one is not (the count must be even).
std::optional<std::size_t> decode_hex_digits(std::span<const std::uint8_t> digits, std::uint8_t* out);

} // namespace xfrmctl::model
