// Reads a JSON document strictly: a duplicate key is an error (a silent
// "last one wins" would hide a typo), and a syntax error names the line,
// the column and the JSON path where it happened, never the text there.
// Objects and arrays nest at most kMaxJsonDepth deep (a definition needs 8:
// /tunnels/NAME/keying/generations/N/outbound/esp); a NUL byte or anything
// else after the document is refused; whole numbers beyond 64 bits are
// refused. Every JSON text the programs read goes through it: definitions,
// xfrmd's control requests and its answers, the state files.
#pragma once

#include "xfrmctl/model/diagnostic.hpp"

#include <nlohmann/json.hpp>

#include <expected>
#include <string>

namespace xfrmctl::model {

inline constexpr std::size_t kMaxJsonDepth = 32;

// `source` names the text in the Diagnostic: a file's name, or "" where the
// caller says what it was reading (Diagnostic::where()).
std::expected<nlohmann::json, Diagnostic> parse_json(const std::string& text, const std::string& source);

} // namespace xfrmctl::model
