// The parts of a tunnel that say how its traffic is protected: the traffic
// selector, the proposal and the manual keys.
#include "tunnel_reader.hpp"

#include <fmt/format.h>
#include <netinet/in.h>

#include <array>
#include <charconv>

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

Parsed<void> read_proposal(const Origin& o, const json& j, Tunnel& t)
{
    const json* v = find_member(j, "proposal");
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
            return o.fail(at, fmt::format("\"{}\" is not an SPI: write it in hex like \"0x10000a01\", or as a number",
                                          text));
    } else if (v.is_number_unsigned()) {
        spi = v.get<std::uint64_t>();
    } else {
        return o.fail(at, fmt::format("expected an SPI (a hex string or a number), got {} ({})", type_name(v), brief(v)));
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
        return o.fail(at, fmt::format("expected an object with \"spi\" and \"key_file\", got {} ({})", type_name(v),
                                      brief(v)));
    if (auto ok = check_keys(o, v, at, {"spi", "key_file"}); !ok)
        return std::unexpected(ok.error());
    for (const char* key : {"spi", "key_file"})
        if (!v.contains(key))
            return o.fail(at, fmt::format("missing field \"{}\"", key));
    auto spi = read_spi(o, v["spi"], at + "/spi");
    if (!spi)
        return std::unexpected(spi.error());
    auto file = read_string(o, v["key_file"], at + "/key_file");
    if (!file)
        return std::unexpected(file.error());
    if (file->empty())
        return o.fail(at + "/key_file", "the key file name is empty");
    std::filesystem::path path(*file);
    return KeyRef{*spi, path.is_absolute() ? path : base_dir / path, *file, o.error(at, "").path};
}

Parsed<DirectionKeys> read_direction(const Origin& o, const json& keying, const char* direction, const Tunnel& t,
                                     const std::filesystem::path& base_dir)
{
    std::string at = std::string("/keying/") + direction;
    const json* v = find_member(keying, direction);
    if (!v)
        return o.fail("/keying", fmt::format("missing field \"{}\"", direction));
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

Parsed<void> read_keying(const Origin& o, const json& j, Tunnel& t, const std::filesystem::path& base_dir)
{
    auto keying = require_object(o, j, "keying", "");
    if (!keying)
        return std::unexpected(keying.error());
    if (auto ok = check_keys(o, **keying, "/keying", {"method", "outbound", "inbound"}); !ok)
        return ok;
    const json* method = find_member(**keying, "method");
    if (!method)
        return o.fail("/keying", "missing field \"method\"");
    auto name = read_choice(o, *method, "/keying/method", {"manual", "ikev2"});
    if (!name)
        return std::unexpected(name.error());
    if (*name == "ikev2")
        return o.fail("/keying/method", "\"ikev2\" is part of format version 1 but not supported by this build yet");
    auto outbound = read_direction(o, **keying, "outbound", t, base_dir);
    if (!outbound)
        return std::unexpected(outbound.error());
    auto inbound = read_direction(o, **keying, "inbound", t, base_dir);
    if (!inbound)
        return std::unexpected(inbound.error());
    t.outbound = std::move(*outbound);
    t.inbound = std::move(*inbound);
    return {};
}

} // namespace xfrmctl::model
