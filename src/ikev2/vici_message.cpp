// VICI messages and packets to and from bytes; no I/O. The layout is that
// of strongSwan's vici README; the checks mirror what charon itself refuses
// (vici_builder.c, vici_message.c, vici_dispatcher.c), since charon drops
// some malformed requests without any answer and the caller would only see
// a timeout.
#include "xfrmctl/ikev2/vici.hpp"

#include <algorithm>
#include <cmath>
#include <optional>
#include <unordered_set>

namespace xfrmctl::ikev2 {

namespace {

enum : std::uint8_t { kSectionStart = 1, kSectionEnd, kKeyValue, kListStart, kListItem, kListEnd };

// charon refuses names that are not printable (chunk_printable() in the C
// locale) and, for packet names, does not even answer.
bool valid_name(std::string_view name)
{
    return name.size() <= kViciMaxName &&
           std::ranges::all_of(name, [](char c) { return c >= 0x20 && c <= 0x7e; });
}

std::span<const std::byte> bytes_of(std::string_view text)
{
    return std::as_bytes(std::span(text.data(), text.size()));
}

template <typename Buffer>
void put_be(Buffer& out, std::size_t value, int width)
{
    for (int shift = 8 * (width - 1); shift >= 0; shift -= 8)
        out.push_back(static_cast<std::byte>((value >> shift) & 0xff));
}

// A length-prefixed field, as names (width 1) and values (width 2) are.
template <typename Buffer>
void put_field(Buffer& out, std::span<const std::byte> data, int width)
{
    put_be(out, data.size(), width);
    out.insert(out.end(), data.begin(), data.end());
}

// Reads a field put_field() wrote; nullopt if `in` ends first.
std::optional<std::string_view> take_field(std::span<const std::byte> in, std::size_t& pos, std::size_t width)
{
    if (in.size() - pos < width)
        return std::nullopt;
    std::size_t size = 0;
    for (std::size_t i = 0; i < width; ++i)
        size = size << 8 | std::to_integer<std::size_t>(in[pos + i]);
    if (in.size() - pos - width < size)
        return std::nullopt;
    std::string_view text(reinterpret_cast<const char*>(in.data() + pos + width), size);
    pos += width + size;
    return text;
}

// Numbers and booleans the way charon's own messages write them.
std::optional<std::string> scalar_text(const ordered_json& value)
{
    switch (value.type()) {
    case ordered_json::value_t::string:
        return value.get_ref<const std::string&>();
    case ordered_json::value_t::boolean:
        return value.get<bool>() ? "yes" : "no";
    case ordered_json::value_t::number_integer:
        return std::to_string(value.get<std::int64_t>());
    case ordered_json::value_t::number_unsigned:
        return std::to_string(value.get<std::uint64_t>());
    case ordered_json::value_t::number_float:
        if (std::isfinite(value.get<double>()))
            return value.dump();
        return std::nullopt;
    default:
        return std::nullopt;
    }
}

} // namespace

// ---- ViciWriter ------------------------------------------------------------

// After the first misuse every further call does nothing: the message is
// already unusable and the first error is the one worth reporting.
bool ViciWriter::check(bool ok, std::string_view what)
{
    if (!ok && error_.empty())
        error_ = what;
    return ok && error_.empty();
}

bool ViciWriter::put(std::uint8_t type, const std::string_view* name,
                     const std::span<const std::byte>* value)
{
    if (name && !check(valid_name(*name), "vici: a name longer than 255 bytes or not printable ASCII"))
        return false;
    if (value && !check(value->size() <= kViciMaxValue, "vici: a value longer than 65535 bytes"))
        return false;
    std::size_t size = 1 + (name ? 1 + name->size() : 0) + (value ? 2 + value->size() : 0);
    if (!check(buffer_.size() + size <= kViciMaxPacket, "vici: the message exceeds charon's 512 KiB"))
        return false;
    buffer_.push_back(std::byte{type});
    if (name)
        put_field(buffer_, bytes_of(*name), 1);
    if (value)
        put_field(buffer_, *value, 2);
    return true;
}

ViciWriter& ViciWriter::begin_section(std::string_view name)
{
    if (check(!in_list_, "vici: a section inside a list") &&
        check(depth_ < kViciMaxDepth, "vici: sections nested more than 16 deep") &&
        put(kSectionStart, &name, nullptr))
        ++depth_;
    return *this;
}

ViciWriter& ViciWriter::end_section()
{
    if (check(!in_list_, "vici: a section ends inside a list") &&
        check(depth_ > 0, "vici: a section end without a section") && put(kSectionEnd, nullptr, nullptr))
        --depth_;
    return *this;
}

ViciWriter& ViciWriter::key_value(std::string_view name, std::span<const std::byte> value)
{
    if (check(!in_list_, "vici: a key/value inside a list"))
        put(kKeyValue, &name, &value);
    return *this;
}

ViciWriter& ViciWriter::key_value(std::string_view name, std::string_view value)
{
    return key_value(name, bytes_of(value));
}

ViciWriter& ViciWriter::begin_list(std::string_view name)
{
    if (check(!in_list_, "vici: a list inside a list") && put(kListStart, &name, nullptr))
        in_list_ = true;
    return *this;
}

ViciWriter& ViciWriter::list_item(std::span<const std::byte> value)
{
    if (check(in_list_, "vici: a list item outside a list"))
        put(kListItem, nullptr, &value);
    return *this;
}

ViciWriter& ViciWriter::list_item(std::string_view value) { return list_item(bytes_of(value)); }

ViciWriter& ViciWriter::end_list()
{
    if (check(in_list_, "vici: a list end outside a list") && put(kListEnd, nullptr, nullptr))
        in_list_ = false;
    return *this;
}

ViciWriter& ViciWriter::append(const ordered_json& object)
{
    if (!check(object.is_object(), "vici: a message or section must be a json object"))
        return *this;
    for (auto it = object.begin(); it != object.end() && error_.empty(); ++it)
        append_member(it.key(), it.value());
    return *this;
}

// Recursion is bounded: begin_section() fails past kViciMaxDepth, and then
// append() stops at once.
void ViciWriter::append_member(const std::string& name, const ordered_json& value)
{
    if (value.is_object()) {
        begin_section(name).append(value).end_section();
    } else if (value.is_array()) {
        begin_list(name);
        for (const auto& item : value) {
            auto text = scalar_text(item);
            if (!text) {
                check(false, "vici: list \"" + name + "\" holds something other than text, numbers or booleans");
                return;
            }
            list_item(*text);
        }
        end_list();
    } else if (value.is_binary()) {
        key_value(name, std::as_bytes(std::span(value.get_binary())));
    } else if (auto text = scalar_text(value)) {
        key_value(name, *text);
    } else {
        check(false, "vici: \"" + name + "\" is null or not finite, which has no vici form");
    }
}

Status ViciWriter::status() const
{
    if (!error_.empty())
        return fail(error_);
    if (in_list_)
        return fail("vici: a list is left open");
    if (depth_ > 0)
        return fail("vici: " + std::to_string(depth_) + " section(s) left open");
    return {};
}

Result<ViciWriter> encode(const ordered_json& message)
{
    ViciWriter writer;
    if (auto ok = writer.append(message).status(); !ok)
        return fail(ok.error());
    return writer;
}

// ---- decoding --------------------------------------------------------------

namespace {

// Iterative, so that depth costs no stack; `sections_` holds the open
// sections innermost last. Only the innermost is ever modified, so pointers
// to the outer ones stay valid.
class Decoder {
public:
    explicit Decoder(std::span<const std::byte> in) : in_(in) {}
    Result<ordered_json> run();

private:
    Status element(std::uint8_t type);
    Status open_section(std::string_view name);
    Status close_section();
    ordered_json* insert(std::string_view name, ordered_json value);
    std::optional<std::string_view> field(std::size_t width) { return take_field(in_, pos_, width); }
    std::unexpected<Error> error(std::string_view what) const
    {
        return fail("vici message: " + std::string(what) + " at byte " + std::to_string(start_));
    }
    std::unexpected<Error> repeated(std::string_view name) const
    {
        return error("the key \"" + std::string(name) + "\" is repeated in a section");
    }

    std::span<const std::byte> in_;
    std::size_t pos_ = 0;
    std::size_t start_ = 0; // where the element being read began
    ordered_json root_ = ordered_json::object();
    std::vector<ordered_json*> sections_{&root_};
    std::vector<std::unordered_set<std::string_view>> names_{1}; // per open section
    ordered_json* list_ = nullptr;
};

Result<ordered_json> Decoder::run()
{
    while (pos_ < in_.size()) {
        start_ = pos_;
        if (auto ok = element(std::to_integer<std::uint8_t>(in_[pos_++])); !ok)
            return fail(ok.error());
    }
    start_ = pos_;
    if (list_)
        return error("a list is not closed");
    if (sections_.size() > 1)
        return error("a section is not closed");
    return std::move(root_);
}

// The placement rules are those of vici_verify_type(): inside a list only
// items and its end; no items or list ends outside one.
Status Decoder::element(std::uint8_t type)
{
    static constexpr std::string_view kinds[] = {"",           "section start", "section end", "key/value",
                                                 "list start", "list item",     "list end"};
    if (type < kSectionStart || type > kListEnd)
        return error("unknown element type " + std::to_string(type));
    if ((type == kListItem || type == kListEnd) != (list_ != nullptr))
        return error("a " + std::string(kinds[type]) + (list_ ? " inside" : " outside") + " a list");
    bool named = type == kSectionStart || type == kKeyValue || type == kListStart;
    auto name = named ? field(1) : std::string_view();
    auto value = name && (type == kKeyValue || type == kListItem) ? field(2) : std::string_view();
    if (!name || !value)
        return error("a truncated " + std::string(kinds[type]));
    switch (type) {
    case kSectionStart:
        return open_section(*name);
    case kSectionEnd:
        return close_section();
    case kKeyValue:
        return insert(*name, std::string(*value)) ? Status() : repeated(*name);
    case kListStart:
        list_ = insert(*name, ordered_json::array());
        return list_ ? Status() : repeated(*name);
    case kListItem:
        list_->push_back(std::string(*value));
        return {};
    default: // kListEnd
        list_ = nullptr;
        return {};
    }
}

Status Decoder::open_section(std::string_view name)
{
    if (sections_.size() > kViciMaxDepth)
        return error("sections nested more than 16 deep");
    ordered_json* section = insert(name, ordered_json::object());
    if (!section)
        return repeated(name);
    sections_.push_back(section);
    names_.emplace_back();
    return {};
}

Status Decoder::close_section()
{
    if (sections_.size() == 1)
        return error("a section end without a section");
    sections_.pop_back();
    names_.pop_back();
    return {};
}

// nullptr if the name is taken. ordered_json's own emplace() searches the
// section linearly, quadratic in a big section; the set of names is O(1).
ordered_json* Decoder::insert(std::string_view name, ordered_json value)
{
    if (!names_.back().insert(name).second)
        return nullptr;
    auto& members = static_cast<ordered_json::object_t::Container&>(
        sections_.back()->get_ref<ordered_json::object_t&>());
    members.emplace_back(std::string(name), std::move(value));
    return &members.back().second;
}

} // namespace

Result<ordered_json> decode(std::span<const std::byte> message)
{
    // Allocation failure is the only exception left; keep it inside.
    try {
        return Decoder(message).run();
    } catch (const std::exception& e) {
        return fail(std::string("vici message: ") + e.what());
    }
}

// ---- packets ---------------------------------------------------------------

namespace {

bool named(ViciPacketType type)
{
    using enum ViciPacketType;
    return type == cmd_request || type == event_register || type == event_unregister || type == event;
}

bool carries_message(ViciPacketType type)
{
    using enum ViciPacketType;
    return type == cmd_request || type == cmd_response || type == event;
}

bool known(ViciPacketType type) { return static_cast<std::uint8_t>(type) <= 7; }

} // namespace

std::string_view to_string(ViciPacketType type)
{
    static constexpr std::string_view names[] = {"CMD_REQUEST",   "CMD_RESPONSE",     "CMD_UNKNOWN",
                                                 "EVENT_REGISTER", "EVENT_UNREGISTER", "EVENT_CONFIRM",
                                                 "EVENT_UNKNOWN",  "EVENT"};
    return known(type) ? names[static_cast<std::uint8_t>(type)] : "unknown packet type";
}

Result<std::vector<std::byte>> packet_header(ViciPacketType type, std::string_view name,
                                             std::size_t message_size)
{
    if (!known(type))
        return fail("vici: unknown packet type " + std::to_string(static_cast<int>(type)));
    if (named(type) ? !valid_name(name) : !name.empty())
        return fail("vici: a bad name for a " + std::string(to_string(type)) + " packet");
    if (!carries_message(type) && message_size > 0)
        return fail("vici: a " + std::string(to_string(type)) + " packet carries no message");
    std::size_t length = 1 + (named(type) ? 1 + name.size() : 0) + message_size;
    if (length > kViciMaxPacket)
        return fail("vici: a packet of " + std::to_string(length) + " bytes exceeds charon's limit of " +
                    std::to_string(kViciMaxPacket));
    std::vector<std::byte> header;
    put_be(header, length, 4);
    header.push_back(static_cast<std::byte>(type));
    if (named(type))
        put_field(header, bytes_of(name), 1);
    return header;
}

Result<WipedBytes> encode_packet(ViciPacketType type, std::string_view name,
                                 std::span<const std::byte> message)
{
    auto header = packet_header(type, name, message.size());
    if (!header)
        return fail(header.error());
    WipedBytes packet(header->begin(), header->end());
    packet.insert(packet.end(), message.begin(), message.end());
    return packet;
}

Result<std::size_t> packet_length(std::span<const std::byte, 4> field)
{
    std::size_t length = 0;
    for (std::byte b : field)
        length = length << 8 | std::to_integer<std::size_t>(b);
    if (length == 0)
        return fail("vici: an empty packet (no type byte)");
    if (length > kViciMaxPacket)
        return fail("vici: a packet of " + std::to_string(length) + " bytes exceeds the limit of " +
                    std::to_string(kViciMaxPacket));
    return length;
}

Result<ViciPacket> parse_packet(std::span<const std::byte> payload)
{
    if (payload.empty())
        return fail("vici: an empty packet (no type byte)");
    ViciPacket packet{static_cast<ViciPacketType>(payload[0]), {}, {}};
    if (!known(packet.type))
        return fail("vici: unknown packet type " + std::to_string(std::to_integer<int>(payload[0])));
    std::size_t pos = 1;
    if (named(packet.type)) {
        auto name = take_field(payload, pos, 1);
        if (!name)
            return fail("vici: a " + std::string(to_string(packet.type)) + " packet with a truncated name");
        packet.name = *name;
    }
    packet.message = payload.subspan(pos);
    if (!carries_message(packet.type) && !packet.message.empty())
        return fail("vici: a " + std::string(to_string(packet.type)) + " packet with stray bytes");
    return packet;
}

} // namespace xfrmctl::ikev2
