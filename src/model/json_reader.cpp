#include "xfrmctl/model/json_reader.hpp"

#include <fmt/format.h>

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
// JSON path of the value being read.
class StrictSax : public nlohmann::json_sax<json> {
public:
    json root;
    std::string duplicate_key_path;
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
    bool number_float(number_float_t v, const string_t&) override { return add(v); }
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

    bool parse_error(std::size_t offset, const std::string&, const nlohmann::detail::exception& e) override
    {
        error_path = path();
        error_text = e.what();
        error_offset = offset;
        return false;
    }

private:
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

} // namespace

std::expected<nlohmann::json, Diagnostic> parse_json(const std::string& text, const std::string& file)
{
    StrictSax sax;
    if (json::sax_parse(text, &sax, json::input_format_t::json, true))
        return std::move(sax.root);
    if (!sax.duplicate_key_path.empty())
        return std::unexpected(Diagnostic{file, sax.duplicate_key_path, "duplicate key (each key may appear once)"});
    std::size_t at = sax.error_offset ? sax.error_offset - 1 : 0;
    return std::unexpected(Diagnostic{file, sax.error_path,
                                      "invalid JSON at " + line_and_column(text, at) + ": " + explanation(sax.error_text)});
}

} // namespace xfrmctl::model
