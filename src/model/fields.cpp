#include "fields.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <vector>

namespace xfrmctl::model {

Diagnostic Origin::error(const std::string& relative, std::string message) const
{
    json::json_pointer pointer(relative.empty() ? "" : relative);
    bool in_own = own_ && own_->contains(pointer);
    bool in_defaults = defaults_ && defaults_->contains(pointer);
    std::string where = (!in_own && in_defaults) ? "/defaults" + relative : tunnel_path_ + relative;
    return Diagnostic{file_, where, std::move(message)};
}

const char* type_name(const json& v)
{
    switch (v.type()) {
    case json::value_t::null: return "null";
    case json::value_t::boolean: return "a boolean";
    case json::value_t::string: return "a string";
    case json::value_t::array: return "an array";
    case json::value_t::object: return "an object";
    case json::value_t::number_float: return "a fractional number";
    default: return "a number";
    }
}

std::string brief(const json& v)
{
    std::string text = v.dump();
    return text.size() <= 40 ? text : text.substr(0, 37) + "...";
}

namespace {

std::size_t edit_distance(std::string_view a, std::string_view b)
{
    std::vector<std::size_t> row(b.size() + 1);
    for (std::size_t j = 0; j <= b.size(); ++j)
        row[j] = j;
    for (std::size_t i = 1; i <= a.size(); ++i) {
        std::size_t diagonal = row[0];
        row[0] = i;
        for (std::size_t j = 1; j <= b.size(); ++j) {
            std::size_t above = row[j];
            row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] != b[j - 1])});
            diagonal = above;
        }
    }
    return row[b.size()];
}

template <typename List>
std::string known_list(const List& known)
{
    std::string list;
    for (auto k : known)
        list += (list.empty() ? "" : ", ") + std::string(k);
    return list;
}

} // namespace

Parsed<void> check_keys(const Origin& o, const json& object, const std::string& at,
                        std::span<const std::string_view> known)
{
    for (const auto& [key, value] : object.items()) {
        if (std::find(known.begin(), known.end(), key) != known.end())
            continue;
        std::string message = fmt::format("unknown field \"{}\"", key);
        for (auto k : known)
            if (edit_distance(key, k) <= 2) {
                message += fmt::format(" (did you mean \"{}\"?)", k);
                break;
            }
        return o.fail(pointer_append(at, key), message + "; known fields here: " + known_list(known));
    }
    return {};
}

const json* find_member(const json& parent, const std::string& key)
{
    auto it = parent.find(key);
    return it == parent.end() ? nullptr : &*it;
}

Parsed<const json*> require_object(const Origin& o, const json& parent, const std::string& key, const std::string& at)
{
    std::string where = pointer_append(at, key);
    auto it = parent.find(key);
    if (it == parent.end())
        return o.fail(at, fmt::format("missing field \"{}\"", key));
    if (!it->is_object())
        return o.fail(where, fmt::format("expected an object, got {} ({})", type_name(*it), brief(*it)));
    return &*it;
}

Parsed<std::string> read_string(const Origin& o, const json& v, const std::string& at)
{
    if (!v.is_string())
        return o.fail(at, fmt::format("expected a string, got {} ({})", type_name(v), brief(v)));
    return v.get<std::string>();
}

Parsed<std::string> read_file_name(const Origin& o, const json& v, const std::string& at)
{
    if (!v.is_string())
        return o.fail(at, fmt::format("expected a file name (a string), got {}", type_name(v)));
    if (v.get_ref<const std::string&>().empty())
        return o.fail(at, "the file name is empty");
    return v.get<std::string>();
}

Parsed<std::uint64_t> read_uint(const Origin& o, const json& v, const std::string& at, std::uint64_t min,
                                std::uint64_t max)
{
    if (!v.is_number_integer() || (v.is_number_integer() && !v.is_number_unsigned() && v.get<std::int64_t>() < 0))
        return o.fail(at, fmt::format("expected a whole number from {} to {}, got {} ({})", min, max, type_name(v),
                                      brief(v)));
    auto n = v.get<std::uint64_t>();
    if (n < min || n > max)
        return o.fail(at, fmt::format("{} is out of range: expected {} to {}", n, min, max));
    return n;
}

Parsed<void> read_u32_field(const Origin& o, const json& object, const std::string& at, const char* key,
                            std::uint64_t min, std::uint64_t max, std::uint32_t& into)
{
    const json* v = find_member(object, key);
    if (!v)
        return {};
    auto n = read_uint(o, *v, pointer_append(at, key), min, std::min<std::uint64_t>(max, 0xffffffff));
    if (!n)
        return std::unexpected(n.error());
    into = static_cast<std::uint32_t>(*n);
    return {};
}

Parsed<std::string> read_choice(const Origin& o, const json& v, const std::string& at,
                                std::initializer_list<std::string_view> choices)
{
    auto s = read_string(o, v, at);
    if (!s)
        return s;
    if (std::find(choices.begin(), choices.end(), *s) == choices.end())
        return o.fail(at, fmt::format("\"{}\" is not one of: {}", *s, known_list(choices)));
    return s;
}

} // namespace xfrmctl::model
