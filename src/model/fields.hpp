// Reading typed values out of a definition's JSON, each failure a
// Diagnostic that names the place (a private helper of the model).
#pragma once

#include "xfrmctl/model/diagnostic.hpp"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <expected>
#include <initializer_list>
#include <span>
#include <string>
#include <string_view>

namespace xfrmctl::model {

using nlohmann::json;

template <typename T>
using Parsed = std::expected<T, Diagnostic>;

// Where the values of one tunnel came from: the tunnel's own object, or the
// file's "defaults" that filled in what the tunnel left out. Errors are
// reported at the place the operator must edit.
class Origin {
public:
    Origin(std::string file, std::string tunnel_path, const json* own, const json* defaults)
        : file_(std::move(file)), tunnel_path_(std::move(tunnel_path)), own_(own), defaults_(defaults)
    {
    }
    Diagnostic error(const std::string& relative, std::string message) const;
    std::unexpected<Diagnostic> fail(const std::string& relative, std::string message) const
    {
        return std::unexpected(error(relative, std::move(message)));
    }
    const std::string& file() const { return file_; }

private:
    std::string file_;
    std::string tunnel_path_;
    const json* own_;
    const json* defaults_;
};

const char* type_name(const json& value);
std::string brief(const json& value); // a short rendering of a value for messages

// Refuses keys that are not in `known`, suggesting the nearest known one.
Parsed<void> check_keys(const Origin& o, const json& object, const std::string& at,
                        std::span<const std::string_view> known);
inline Parsed<void> check_keys(const Origin& o, const json& object, const std::string& at,
                               std::initializer_list<std::string_view> known)
{
    return check_keys(o, object, at, std::span(known.begin(), known.size()));
}
Parsed<const json*> require_object(const Origin& o, const json& parent, const std::string& key, const std::string& at);
const json* find_member(const json& parent, const std::string& key); // null when absent
Parsed<std::string> read_string(const Origin& o, const json& value, const std::string& at);
// A field naming a file (key_file, psk_file, private_key, certificate, ca):
// a non-empty string. Its errors never repeat the value: a key or PSK
// pasted in by mistake would be printed and logged.
Parsed<std::string> read_file_name(const Origin& o, const json& value, const std::string& at);
Parsed<std::uint64_t> read_uint(const Origin& o, const json& value, const std::string& at, std::uint64_t min,
                                std::uint64_t max);
// An optional whole-number field `key` of `object` (at `at`): `into` is
// left as it is when the field is absent.
Parsed<void> read_u32_field(const Origin& o, const json& object, const std::string& at, const char* key,
                            std::uint64_t min, std::uint64_t max, std::uint32_t& into);
Parsed<std::string> read_choice(const Origin& o, const json& value, const std::string& at,
                                std::initializer_list<std::string_view> choices);

} // namespace xfrmctl::model
