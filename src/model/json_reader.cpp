#include "xfrmctl/model/json_reader.hpp"

#include <fmt/format.h>

#include <optional>
#include <vector>

namespace xfrmctl::model {

std::string pointer_append(const std::string& pointer, const std::string& token)
{
    std::string escaped;
    for (char c : token) {
        if (c == '~')
            escaped += "~0";
        else if (c == '/')
            escaped += "~1";
        else
            escaped += c;
    }
    return pointer + "/" + escaped;
}

namespace {

using nlohmann::json;

// Builds the document like nlohmann's own DOM parser, and also keeps the
// JSON path of the value being read. What nlohmann would take but none of
// our documents may hold is refused here, while the path is known: more
// than kMaxJsonDepth nested objects and arrays (the readers, the merge of
// defaults and json's own copies recurse once per level: 50,000 levels
// overflowed the stack), and whole numbers beyond 64 bits (nlohmann turns
// them into fractional ones).
class StrictSax : public nlohmann::json_sax<json> {
public:
    json root;
    std::string duplicate_key_path;
    std::string refused_path; // and why, in refused_reason
    std::string refused_reason;
    std::string error_path;
    std::string error_text;
    std::size_t error_offset = 0;

    std::string path() const
    {
        std::string p;
        for (std::size_t i = 0; i < stack_.size(); ++i) {
            const json* container = stack_[i];
            bool innermost = i + 1 == stack_.size();
            // In the innermost object, the last key counts only while its
            // value is still being read.
            if (container->is_object() && i < keys_.size() && (!innermost || awaiting_value_))
                p = pointer_append(p, keys_[i]);
            else if (container->is_array()) // a nested container is already its last element
                p = pointer_append(p, std::to_string(container->size() - (i + 1 < stack_.size() ? 1 : 0)));
        }
        return p;
    }

    bool null() override { return add(nullptr); }
    bool boolean(bool v) override { return add(v); }
    bool number_integer(number_integer_t v) override { return add(v); }
    bool number_unsigned(number_unsigned_t v) override { return add(v); }
    bool number_float(number_float_t v, const string_t& text) override
    {
        if (text.find_first_of(".eE") != std::string::npos)
            return add(v);
        // Not the digits: a number pasted by mistake could be a key.
        std::size_t digits = text.size() - (text.starts_with('-') ? 1 : 0);
        return refuse(fmt::format("a whole number of {} digits is out of range (whole numbers are read from "
                                  "-9223372036854775808 to 18446744073709551615)",
                                  digits));
    }
    bool string(string_t& v) override { return add(v); }
    bool binary(binary_t& v) override { return add(json::binary(v)); }
    bool start_object(std::size_t) override { return open(json::object()); }
    bool start_array(std::size_t) override { return open(json::array()); }
    bool end_object() override { return close(); }
    bool end_array() override { return close(); }

    bool key(string_t& k) override
    {
        json* object = stack_.back();
        keys_.resize(stack_.size());
        keys_.back() = k;
        awaiting_value_ = true;
        if (object->contains(k)) {
            duplicate_key_path = path();
            return false;
        }
        return true;
    }

    bool parse_error(std::size_t offset, const std::string& last_read, const nlohmann::detail::exception& e) override
    {
        error_path = path();
        error_text = without_quote(e.what(), last_read);
        error_offset = offset;
        return false;
    }

private:
    // nlohmann quotes the token it stopped in ("; last read: '...'"): the
    // first bytes of a key or PSK file given by mistake as the definitions.
    // Line and column say where, without the text.
    static std::string without_quote(std::string what, const std::string& last_read)
    {
        std::string quote = "; last read: '" + last_read + "'";
        if (auto at = what.find(quote); at != std::string::npos)
            what.erase(at, quote.size());
        return what;
    }

    bool refuse(std::string reason)
    {
        refused_path = path();
        refused_reason = std::move(reason);
        return false;
    }

    bool add(json value)
    {
        awaiting_value_ = false;
        if (stack_.empty()) {
            root = std::move(value);
            return true;
        }
        json* container = stack_.back();
        if (container->is_array())
            container->push_back(std::move(value));
        else
            (*container)[keys_[stack_.size() - 1]] = std::move(value);
        return true;
    }

    bool open(json value)
    {
        if (stack_.size() == kMaxJsonDepth)
            return refuse(fmt::format("nested more than {} levels deep (objects and arrays)", kMaxJsonDepth));
        awaiting_value_ = false;
        json* target;
        if (stack_.empty()) {
            root = std::move(value);
            target = &root;
        } else if (stack_.back()->is_array()) {
            stack_.back()->push_back(std::move(value));
            target = &stack_.back()->back();
        } else {
            target = &((*stack_.back())[keys_[stack_.size() - 1]] = std::move(value));
        }
        stack_.push_back(target);
        return true;
    }

    bool close()
    {
        stack_.pop_back();
        keys_.resize(std::min(keys_.size(), stack_.size()));
        return true;
    }

    std::vector<json*> stack_;
    std::vector<std::string> keys_;
    bool awaiting_value_ = false;
};

std::string line_and_column(const std::string& text, std::size_t offset)
{
    std::size_t line = 1, column = 1;
    for (std::size_t i = 0; i < offset && i < text.size(); ++i) {
        if (text[i] == '\n') {
            ++line;
            column = 1;
        } else {
            ++column;
        }
    }
    return fmt::format("line {}, column {}", line, column);
}

// nlohmann's text starts "[json.exception.parse_error.101] parse error at
// line 1, column 2: "; keep only what follows, we give the place ourselves.
std::string explanation(const std::string& what)
{
    auto colon = what.find(": ");
    return colon == std::string::npos ? what : what.substr(colon + 2);
}

// nlohmann's lexer takes a NUL byte for the end of the input wherever a
// token may start (lexer::scan: "the null byte is needed when parsing from
// string literals"), so without this, whatever follows one is ignored:
// `{"version": 1, "tunnels": {}}\0{...}` read as no tunnels at all. A NUL
// inside a string is refused by the lexer itself, so after a parse that
// succeeded, the first NUL is the one that ended it.
std::optional<Diagnostic> nul_after_document(const std::string& text, const std::string& source)
{
    auto nul = text.find('\0');
    if (nul == std::string::npos)
        return std::nullopt;
    return Diagnostic{source, "",
                      "invalid JSON at " + line_and_column(text, nul) + ": a NUL byte after the document (nothing may follow it)"};
}

} // namespace

std::expected<nlohmann::json, Diagnostic> parse_json(const std::string& text, const std::string& source)
{
    StrictSax sax;
    if (json::sax_parse(text, &sax, json::input_format_t::json, true)) {
        if (auto nul = nul_after_document(text, source))
            return std::unexpected(*nul);
        return std::move(sax.root);
    }
    if (!sax.duplicate_key_path.empty())
        return std::unexpected(Diagnostic{source, sax.duplicate_key_path, "duplicate key (each key may appear once)"});
    if (!sax.refused_reason.empty())
        return std::unexpected(Diagnostic{source, sax.refused_path, sax.refused_reason});
    std::size_t at = sax.error_offset ? sax.error_offset - 1 : 0;
    return std::unexpected(Diagnostic{source, sax.error_path,
                                      "invalid JSON at " + line_and_column(text, at) + ": " + explanation(sax.error_text)});
}

} // namespace xfrmctl::model
