// The parts of a tunnel that say how its traffic is protected: the traffic
// selector, the proposal and the manual keys.
#include "tunnel_reader.hpp"

#include <fmt/format.h>
#include <netinet/in.h>

#include <array>
#include <algorithm>
#include <charconv>
#include <cstdio>
#include <ctime>

namespace xfrmctl::model {

namespace {

struct NamedProtocol {
    std::string_view name;
    std::uint8_t number;
    bool has_ports;
};

constexpr std::array kIpProtocols = {
    NamedProtocol{"tcp", IPPROTO_TCP, true},       NamedProtocol{"udp", IPPROTO_UDP, true},
    NamedProtocol{"sctp", IPPROTO_SCTP, true},     NamedProtocol{"udplite", IPPROTO_UDPLITE, true},
    NamedProtocol{"icmp", IPPROTO_ICMP, false},    NamedProtocol{"icmpv6", IPPROTO_ICMPV6, false},
    NamedProtocol{"gre", IPPROTO_GRE, false},      NamedProtocol{"ipip", IPPROTO_IPIP, false},
};

Parsed<NamedProtocol> read_ip_protocol(const Origin& o, const json& v, const std::string& at)
{
    if (v.is_number_integer()) {
        auto n = read_uint(o, v, at, 1, 255);
        if (!n)
            return std::unexpected(n.error());
        for (const auto& p : kIpProtocols)
            if (p.number == *n)
                return p;
        return NamedProtocol{"", static_cast<std::uint8_t>(*n), false};
    }
    auto name = read_string(o, v, at);
    if (!name)
        return std::unexpected(name.error());
    for (const auto& p : kIpProtocols)
        if (p.name == *name)
            return p;
    return o.fail(at, fmt::format("unknown IP protocol \"{}\"; use tcp, udp, sctp, udplite, icmp, icmpv6, gre, "
                                  "ipip or a number",
                                  *name));
}

Parsed<std::uint16_t> read_port(const Origin& o, const json& traffic, const std::string& object, const std::string& key,
                                bool allowed)
{
    const json* v = find_member(traffic, key);
    if (!v)
        return 0;
    std::string at = object + "/" + key;
    if (!allowed)
        return o.fail(at, "ports need \"protocol\" to be tcp, udp, sctp or udplite");
    auto port = read_uint(o, *v, at, 1, 65535);
    if (!port)
        return std::unexpected(port.error());
    return static_cast<std::uint16_t>(*port);
}

} // namespace

Parsed<Traffic> parse_traffic(const Origin& o, const json& v, const std::string& at)
{
    if (!v.is_object())
        return o.fail(at, fmt::format("expected an object, got {} ({})", type_name(v), brief(v)));
    if (auto ok = check_keys(o, v, at, {"protocol", "local_port", "remote_port"}); !ok)
        return std::unexpected(ok.error());
    const json* protocol = find_member(v, "protocol");
    if (!protocol)
        return o.fail(at, "missing field \"protocol\"");
    auto ip = read_ip_protocol(o, *protocol, at + "/protocol");
    if (!ip)
        return std::unexpected(ip.error());
    auto local_port = read_port(o, v, at, "local_port", ip->has_ports);
    if (!local_port)
        return std::unexpected(local_port.error());
    auto remote_port = read_port(o, v, at, "remote_port", ip->has_ports);
    if (!remote_port)
        return std::unexpected(remote_port.error());
    return Traffic{ip->number, *local_port, *remote_port};
}

Parsed<void> read_traffic(const Origin& o, const json& j, Tunnel& t)
{
    const json* v = find_member(j, "traffic");
    if (!v)
        return {};
    auto traffic = parse_traffic(o, *v, "/traffic");
    if (!traffic)
        return std::unexpected(traffic.error());
    t.traffic = *traffic;
    return {};
}

namespace {

Parsed<const Proposal*> read_one_proposal(const Origin& o, const json& v, const std::string& at, bool for_esp)
{
    auto keyword = read_string(o, v, at);
    if (!keyword)
        return std::unexpected(keyword.error());
    const Proposal* p = find_proposal(*keyword);
    if (!p || p->is_esp() != for_esp)
        return o.fail(at, refuse_proposal(*keyword, for_esp));
    return p;
}

Parsed<void> read_bundle_proposal(const Origin& o, const json& v, Tunnel& t)
{
    if (!v.is_object())
        return o.fail("/proposal", fmt::format("ah+esp takes an object like {{\"ah\": \"sha256\", \"esp\": "
                                               "\"aes256gcm16\"}}, got {} ({})",
                                               type_name(v), brief(v)));
    if (auto ok = check_keys(o, v, "/proposal", {"ah", "esp"}); !ok)
        return ok;
    for (const char* key : {"ah", "esp"})
        if (!v.contains(key))
            return o.fail("/proposal", fmt::format("missing field \"{}\"", key));
    auto ah = read_one_proposal(o, v["ah"], "/proposal/ah", false);
    if (!ah)
        return std::unexpected(ah.error());
    auto esp = read_one_proposal(o, v["esp"], "/proposal/esp", true);
    if (!esp)
        return std::unexpected(esp.error());
    t.ah_proposal = *ah;
    t.esp_proposal = *esp;
    return {};
}

} // namespace

bool is_ikev2(const json& tunnel)
{
    const json* keying = find_member(tunnel, "keying");
    const json* method = keying && keying->is_object() ? find_member(*keying, "method") : nullptr;
    return method && *method == "ikev2";
}

Parsed<void> read_proposal(const Origin& o, const json& j, Tunnel& t)
{
    const json* v = find_member(j, "proposal");
    if (!v && is_ikev2(j)) // keying.esp_proposals, or the default
        return {};
    if (!v)
        return o.fail("", "missing field \"proposal\"");
    if (t.protocol == Protocol::ah_esp)
        return read_bundle_proposal(o, *v, t);
    if (v->is_object())
        return o.fail("/proposal", "an object is for \"protocol\": \"ah+esp\"; give one keyword here");
    bool esp = t.protocol == Protocol::esp;
    auto p = read_one_proposal(o, *v, "/proposal", esp);
    if (!p)
        return std::unexpected(p.error());
    (esp ? t.esp_proposal : t.ah_proposal) = *p;
    return {};
}

namespace {

constexpr std::uint64_t kMinSpi = 0x100; // RFC 4303: 1-255 are reserved by IANA

Parsed<std::uint32_t> read_spi(const Origin& o, const json& v, const std::string& at)
{
    std::uint64_t spi = 0;
    if (v.is_string()) {
        auto text = v.get<std::string>();
        bool hex = text.size() > 2 && text.size() <= 10 && text[0] == '0' && (text[1] == 'x' || text[1] == 'X');
        auto [end, ec] = std::from_chars(text.data() + (hex ? 2 : 0), text.data() + text.size(), spi, 16);
        if (!hex || ec != std::errc() || end != text.data() + text.size())
            return o.fail(at, fmt::format("{} not an SPI: write it in hex like \"0x10000a01\", or as a number",
                                          // longer than "0xffffffff": maybe a key pasted here, not repeated
                                          text.size() <= 10 ? "\"" + text + "\" is" : std::string("this string is")));
    } else if (v.is_number_unsigned()) {
        spi = v.get<std::uint64_t>();
    } else {
        return o.fail(at, fmt::format("expected an SPI (a hex string or a number), got {}{}", type_name(v),
                                      // a number that fits in 64 bits is no key; a string or a list may hold one
                                      v.is_number() ? " (" + brief(v) + ")" : std::string()));
    }
    if (spi > 0xffffffff)
        return o.fail(at, fmt::format("SPI 0x{:x} does not fit in 32 bits", spi));
    if (spi < kMinSpi)
        return o.fail(at, fmt::format("SPI 0x{:x} is reserved (SPIs 1 to 255 belong to IANA); use 0x100 or above", spi));
    return static_cast<std::uint32_t>(spi);
}

Parsed<KeyRef> read_key_ref(const Origin& o, const json& v, const std::string& at,
                            const std::filesystem::path& base_dir)
{
    if (!v.is_object())
        return o.fail(at, fmt::format("expected an object with \"spi\" and \"key_file\", got {}", type_name(v)));
    if (auto ok = check_keys(o, v, at, {"spi", "key_file"}); !ok)
        return std::unexpected(ok.error());
    for (const char* key : {"spi", "key_file"})
        if (!v.contains(key))
            return o.fail(at, fmt::format("missing field \"{}\"", key));
    auto spi = read_spi(o, v["spi"], at + "/spi");
    if (!spi)
        return std::unexpected(spi.error());
    auto file = read_file_name(o, v["key_file"], at + "/key_file");
    if (!file)
        return std::unexpected(file.error());
    std::filesystem::path path(*file);
    return KeyRef{*spi, (path.is_absolute() ? path : base_dir / path).string(), *file, o.error(at, "").path};
}

// One direction's keys, `direction` ("outbound" or "inbound") of the object
// at `parent_at`.
Parsed<DirectionKeys> read_direction(const Origin& o, const json& parent, const char* direction, const std::string& parent_at,
                                     const Tunnel& t, const std::filesystem::path& base_dir)
{
    std::string at = parent_at + "/" + direction;
    const json* v = find_member(parent, direction);
    if (!v)
        return o.fail(parent_at, fmt::format("missing field \"{}\"", direction));
    DirectionKeys keys;
    if (t.protocol != Protocol::ah_esp) {
        auto ref = read_key_ref(o, *v, at, base_dir);
        if (!ref)
            return std::unexpected(ref.error());
        (t.protocol == Protocol::esp ? keys.esp : keys.ah) = std::move(*ref);
        return keys;
    }
    if (!v->is_object() || v->contains("spi"))
        return o.fail(at, "ah+esp takes one key per protocol here: {\"ah\": {\"spi\": ..., \"key_file\": ...}, "
                          "\"esp\": {...}}");
    if (auto ok = check_keys(o, *v, at, {"ah", "esp"}); !ok)
        return std::unexpected(ok.error());
    for (const char* proto : {"ah", "esp"}) {
        if (!v->contains(proto))
            return o.fail(at, fmt::format("missing field \"{}\"", proto));
        auto ref = read_key_ref(o, (*v)[proto], at + "/" + proto, base_dir);
        if (!ref)
            return std::unexpected(ref.error());
        (std::string_view(proto) == "esp" ? keys.esp : keys.ah) = std::move(*ref);
    }
    return keys;
}

} // namespace

namespace {

// "2026-11-27T12:00:00Z" or with an offset, "2026-11-27T13:00:00+01:00".
std::optional<std::int64_t> parse_time(const std::string& text)
{
    std::tm tm{};
    const char* rest = strptime(text.c_str(), "%Y-%m-%dT%H:%M:%S", &tm);
    if (!rest)
        return std::nullopt;
    std::int64_t seconds = timegm(&tm);
    std::string zone(rest);
    if (zone == "Z")
        return seconds;
    int hours = 0, minutes = 0;
    char sign = 0;
    if (zone.size() != 6 || std::sscanf(zone.c_str(), "%c%2d:%2d", &sign, &hours, &minutes) != 3 || (sign != '+' && sign != '-'))
        return std::nullopt;
    std::int64_t offset = hours * 3600 + minutes * 60;
    return sign == '+' ? seconds - offset : seconds + offset;
}

Parsed<void> read_send(const Origin& o, const json& v, const std::string& at, Generation& g)
{
    if (v.is_boolean()) {
        g.send = v.get<bool>();
        return {};
    }
    if (v.is_string())
        if (auto when = parse_time(v.get<std::string>())) {
            g.send_from = *when;
            return {};
        }
    return o.fail(at, fmt::format("expected true, false or a time like \"2026-11-27T12:00:00Z\", got {}", brief(v)));
}

Parsed<Generation> read_generation(const Origin& o, const json& v, const std::string& at, const Tunnel& t,
                                   const std::filesystem::path& base_dir, std::size_t index)
{
    if (!v.is_object())
        return o.fail(at, fmt::format("expected an object with outbound and inbound keys, got {} ({})", type_name(v), brief(v)));
    if (auto ok = check_keys(o, v, at, {"name", "outbound", "inbound", "send"}); !ok)
        return std::unexpected(ok.error());
    Generation g;
    g.name = "g" + std::to_string(index + 1);
    g.path = o.error(at, "").path;
    if (const json* name = find_member(v, "name")) {
        auto text = read_string(o, *name, at + "/name");
        if (!text)
            return std::unexpected(text.error());
        g.name = *text;
    }
    for (auto [key, keys] : {std::pair{"outbound", &g.outbound}, {"inbound", &g.inbound}}) {
        auto read = read_direction(o, v, key, at, t, base_dir);
        if (!read)
            return std::unexpected(read.error());
        *keys = std::move(*read);
    }
    if (const json* send = find_member(v, "send"))
        if (auto ok = read_send(o, *send, at + "/send", g); !ok)
            return std::unexpected(ok.error());
    return g;
}

Parsed<void> read_generations(const Origin& o, const json& v, Tunnel& t, const std::filesystem::path& base_dir)
{
    const std::string at = "/keying/generations";
    if (!v.is_array() || v.empty() || v.size() > 8)
        return o.fail(at, "expected a list of 1 to 8 key generations, oldest first");
    for (std::size_t i = 0; i < v.size(); ++i) {
        auto g = read_generation(o, v[i], at + "/" + std::to_string(i), t, base_dir, i);
        if (!g)
            return std::unexpected(g.error());
        for (const auto& seen : t.generations)
            if (seen.name == g->name)
                return o.fail(at + "/" + std::to_string(i) + "/name", fmt::format("generation \"{}\" is listed twice", g->name));
        t.generations.push_back(std::move(*g));
    }
    bool any = std::any_of(t.generations.begin(), t.generations.end(), [](const auto& g) { return g.send; });
    if (!any)
        return o.fail(at, "no generation ever sends: give one \"send\": true or a time");
    return {};
}

} // namespace

Parsed<void> read_keying(const Origin& o, const json& j, Tunnel& t, const std::filesystem::path& base_dir)
{
    auto keying = require_object(o, j, "keying", "");
    if (!keying)
        return std::unexpected(keying.error());
    const json* method = find_member(**keying, "method");
    if (!method)
        return o.fail("/keying", "missing field \"method\"");
    auto name = read_choice(o, *method, "/keying/method", {"manual", "ikev2"});
    if (!name)
        return std::unexpected(name.error());
    if (*name == "ikev2")
        return read_ikev2_keying(o, **keying, t, base_dir);
    if (auto ok = check_keys(o, **keying, "/keying", {"method", "outbound", "inbound", "generations", "grace"}); !ok)
        return ok;
    if (const json* grace = find_member(**keying, "grace")) {
        auto seconds = read_uint(o, *grace, "/keying/grace", 1, 86400);
        if (!seconds)
            return std::unexpected(seconds.error());
        t.grace = static_cast<std::uint32_t>(*seconds);
    }
    if (const json* generations = find_member(**keying, "generations")) {
        if ((*keying)->contains("outbound") || (*keying)->contains("inbound"))
            return o.fail("/keying", "give either \"generations\" or \"outbound\" and \"inbound\", not both");
        return read_generations(o, *generations, t, base_dir);
    }
    Generation only; // the simple form: one generation, sending
    only.name = "g1";
    only.path = o.error("/keying", "").path;
    for (auto [key, keys] : {std::pair{"outbound", &only.outbound}, {"inbound", &only.inbound}}) {
        auto read = read_direction(o, **keying, key, "/keying", t, base_dir);
        if (!read)
            return std::unexpected(read.error());
        *keys = std::move(*read);
    }
    t.generations.push_back(std::move(only));
    return {};
}

} // namespace xfrmctl::model
