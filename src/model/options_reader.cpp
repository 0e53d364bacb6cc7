// The tunnel fields that tune its SAs: esn, lifetime, mark, output_mark,
// encapsulation, offload and health.
#include "tunnel_reader.hpp"

#include <fmt/format.h>

#include <charconv>

namespace xfrmctl::model {

namespace {

Parsed<std::uint32_t> read_u32(const Origin& o, const json& v, const std::string& at)
{
    if (v.is_string()) {
        auto text = v.get<std::string>();
        std::uint64_t n = 0;
        bool hex = text.size() > 2 && text[0] == '0' && (text[1] == 'x' || text[1] == 'X');
        auto [end, ec] = std::from_chars(text.data() + (hex ? 2 : 0), text.data() + text.size(), n, hex ? 16 : 10);
        if (ec != std::errc() || end != text.data() + text.size() || n > 0xffffffff)
            return o.fail(at, fmt::format("\"{}\" is not a 32-bit number (write it like 42 or \"0x2a\")", text));
        return static_cast<std::uint32_t>(n);
    }
    auto n = read_uint(o, v, at, 0, 0xffffffff);
    if (!n)
        return std::unexpected(n.error());
    return static_cast<std::uint32_t>(*n);
}

// A mark: 42, "0x2a", or {"value": 42, "mask": "0xff"} (mask defaults to all ones).
Parsed<netlink::Mark> read_mark(const Origin& o, const json& v, const std::string& at)
{
    if (!v.is_object()) {
        auto value = read_u32(o, v, at);
        if (!value)
            return std::unexpected(value.error());
        return netlink::Mark{*value, 0xffffffff};
    }
    if (auto ok = check_keys(o, v, at, {"value", "mask"}); !ok)
        return std::unexpected(ok.error());
    if (!v.contains("value"))
        return o.fail(at, "missing field \"value\"");
    auto value = read_u32(o, v["value"], at + "/value");
    if (!value)
        return std::unexpected(value.error());
    netlink::Mark mark{*value, 0xffffffff};
    if (v.contains("mask")) {
        auto mask = read_u32(o, v["mask"], at + "/mask");
        if (!mask)
            return std::unexpected(mask.error());
        mark.mask = *mask;
    }
    if ((mark.value & mark.mask) != mark.value)
        return o.fail(at + "/value", fmt::format("0x{:x} has bits outside the mask 0x{:x}", mark.value, mark.mask));
    if (!mark.is_set())
        return o.fail(at, "a mark of 0 with mask 0 matches everything: leave the field out instead");
    return mark;
}

struct LimitSet {
    std::uint64_t seconds = 0, bytes = 0, packets = 0; // 0: none
};

Parsed<LimitSet> read_limit_set(const Origin& o, const json& v, const std::string& at)
{
    if (!v.is_object())
        return o.fail(at, fmt::format("expected an object with seconds, bytes or packets, got {} ({})", type_name(v), brief(v)));
    if (auto ok = check_keys(o, v, at, {"seconds", "bytes", "packets"}); !ok)
        return std::unexpected(ok.error());
    LimitSet set;
    for (auto [key, field] : {std::pair{"seconds", &LimitSet::seconds}, {"bytes", &LimitSet::bytes}, {"packets", &LimitSet::packets}}) {
        if (!v.contains(key))
            continue;
        auto n = read_uint(o, v[key], at + "/" + key, 1, std::numeric_limits<std::int64_t>::max());
        if (!n)
            return std::unexpected(n.error());
        set.*field = *n;
    }
    return set;
}

Parsed<void> check_soft_below_hard(const Origin& o, const LimitSet& soft, const LimitSet& hard)
{
    for (auto [key, field] : {std::pair{"seconds", &LimitSet::seconds}, {"bytes", &LimitSet::bytes}, {"packets", &LimitSet::packets}})
        if (soft.*field && hard.*field && soft.*field >= hard.*field)
            return o.fail(std::string("/lifetime/soft/") + key,
                          fmt::format("the soft limit ({}) must be below the hard one ({})", soft.*field, hard.*field));
    return {};
}

Parsed<void> read_lifetime(const Origin& o, const json& v, Tunnel& t)
{
    if (!v.is_object())
        return o.fail("/lifetime", fmt::format("expected an object with \"soft\" and \"hard\", got {} ({})", type_name(v), brief(v)));
    if (auto ok = check_keys(o, v, "/lifetime", {"soft", "hard"}); !ok)
        return ok;
    LimitSet soft, hard;
    for (auto [key, set] : {std::pair{"soft", &soft}, {"hard", &hard}})
        if (v.contains(key)) {
            auto read = read_limit_set(o, v[key], std::string("/lifetime/") + key);
            if (!read)
                return std::unexpected(read.error());
            *set = *read;
        }
    if (auto ok = check_soft_below_hard(o, soft, hard); !ok)
        return ok;
    auto or_infinite = [](std::uint64_t n) { return n ? n : netlink::kInfinite; };
    t.limits.soft_bytes = or_infinite(soft.bytes);
    t.limits.hard_bytes = or_infinite(hard.bytes);
    t.limits.soft_packets = or_infinite(soft.packets);
    t.limits.hard_packets = or_infinite(hard.packets);
    t.limits.soft_add_seconds = soft.seconds;
    t.limits.hard_add_seconds = hard.seconds;
    return {};
}

Parsed<void> read_encapsulation(const Origin& o, const json& v, Tunnel& t)
{
    if (!v.is_object())
        return o.fail("/encapsulation", fmt::format("expected an object (like {{\"local_port\": 4500}}), got {} ({})",
                                                    type_name(v), brief(v)));
    if (auto ok = check_keys(o, v, "/encapsulation", {"local_port", "remote_port"}); !ok)
        return ok;
    if (t.protocol != Protocol::esp)
        return o.fail("/encapsulation", "ESP in UDP carries ESP only: AH protects the IP header, which NAT rewrites");
    Encapsulation e;
    for (auto [key, port] : {std::pair{"local_port", &e.local_port}, {"remote_port", &e.remote_port}})
        if (v.contains(key)) {
            auto n = read_uint(o, v[key], std::string("/encapsulation/") + key, 1, 65535);
            if (!n)
                return std::unexpected(n.error());
            *port = static_cast<std::uint16_t>(*n);
        }
    t.encapsulation = e;
    return {};
}

// A device name as the kernel takes it (dev_valid_name() in net/core/dev.c):
// under IFNAMSIZ (16) bytes, not "." or "..", no '/', ':' or white space.
bool valid_device_name(const std::string& name)
{
    if (name.empty() || name.size() > 15 || name == "." || name == "..")
        return false;
    return name.find_first_of("/: \t\n\r\v\f") == std::string::npos;
}

// What the kernel cannot offload, refused here with the reason rather than
// by the kernel's EINVAL: xfrm_dev_state_add() (net/xfrm/xfrm_device.c)
// wants a type with offload support (ESP only: xfrm_get_type_offload() in
// xfrm_state.c) and refuses UDP encapsulation.
Parsed<void> check_offload_fit(const Origin& o, const Tunnel& t)
{
    if (t.protocol != Protocol::esp)
        return o.fail("/offload", "only ESP can be offloaded to a device: the kernel has no AH offload");
    if (t.encapsulation)
        return o.fail("/offload", "ESP in UDP cannot be offloaded: the kernel refuses encapsulated SAs on a device "
                                  "(leave out \"encapsulation\" or \"offload\")");
    if (t.negotiated())
        return o.fail("/offload", "offload is for manual keying: charon installs an ikev2 tunnel's SAs");
    return {};
}

Parsed<void> read_offload(const Origin& o, const json& v, Tunnel& t)
{
    if (!v.is_object())
        return o.fail("/offload", fmt::format("expected an object (like {{\"device\": \"eth0\"}}), got {} ({})",
                                              type_name(v), brief(v)));
    if (auto ok = check_keys(o, v, "/offload", {"device", "mode"}); !ok)
        return ok;
    if (!v.contains("device"))
        return o.fail("/offload", "missing field \"device\" (the network device to offload to, like \"eth0\")");
    auto device = read_string(o, v["device"], "/offload/device");
    if (!device)
        return std::unexpected(device.error());
    if (!valid_device_name(*device))
        return o.fail("/offload/device", fmt::format("\"{}\" is not a network device name (1 to 15 characters, "
                                                     "no '/', ':' or spaces)",
                                                     *device));
    Offload off{*device, false};
    if (v.contains("mode")) {
        auto mode = read_choice(o, v["mode"], "/offload/mode", {"crypto", "packet"});
        if (!mode)
            return std::unexpected(mode.error());
        off.packet = *mode == "packet";
    }
    if (auto ok = check_offload_fit(o, t); !ok)
        return ok;
    t.offload = std::move(off);
    return {};
}

Parsed<void> read_marks(const Origin& o, const json& j, Tunnel& t)
{
    for (auto [key, mark] : {std::pair{"mark", &t.mark}, {"output_mark", &t.output_mark}})
        if (const json* v = find_member(j, key)) {
            auto read = read_mark(o, *v, std::string("/") + key);
            if (!read)
                return std::unexpected(read.error());
            *mark = *read;
        }
    return {};
}

Parsed<IpAddress> read_health_address(const Origin& o, const json& v, const std::string& at,
                                     const std::vector<Prefix>& within, const char* side)
{
    auto text = read_string(o, v, at);
    if (!text)
        return std::unexpected(text.error());
    auto a = IpAddress::parse(*text);
    if (!a)
        return o.fail(at, fmt::format("\"{}\" is not an IPv4 or IPv6 address", *text));
    for (const auto& p : within)
        if (p.contains(*a))
            return *a;
    return o.fail(at, fmt::format("{} is not in the {} subnets: the probe would not cross the tunnel", *text, side));
}

Parsed<void> read_health(const Origin& o, const json& v, Tunnel& t)
{
    if (!v.is_object())
        return o.fail("/health", fmt::format("expected an object, got {} ({})", type_name(v), brief(v)));
    if (auto ok = check_keys(o, v, "/health", {"interval", "dead_after", "target", "source"}); !ok)
        return ok;
    HealthCheck h;
    if (auto ok = read_u32_field(o, v, "/health", "interval", 1, 3600, h.interval); !ok)
        return ok;
    h.dead_after = 3 * h.interval;
    if (auto ok = read_u32_field(o, v, "/health", "dead_after", h.interval, 86400, h.dead_after); !ok)
        return ok;
    for (auto [key, field, within, side] : {std::tuple{"target", &h.target, &t.remote.subnets, "remote"},
                                            {"source", &h.source, &t.local.subnets, "local"}})
        if (v.contains(key)) {
            auto a = read_health_address(o, v[key], std::string("/health/") + key, *within, side);
            if (!a)
                return std::unexpected(a.error());
            *field = *a;
        }
    t.health = h;
    return {};
}

} // namespace

Parsed<void> read_options(const Origin& o, const json& j, Tunnel& t)
{
    if (const json* v = find_member(j, "esn")) {
        if (!v->is_boolean())
            return o.fail("/esn", fmt::format("expected true or false, got {} ({})", type_name(*v), brief(*v)));
        t.esn = v->get<bool>();
    }
    if (t.esn && t.replay_window == 0)
        return o.fail("/replay_window", "esn needs a replay window (1 to 4096)");
    if (const json* v = find_member(j, "lifetime"))
        if (auto ok = read_lifetime(o, *v, t); !ok)
            return ok;
    if (const json* v = find_member(j, "encapsulation"))
        if (auto ok = read_encapsulation(o, *v, t); !ok)
            return ok;
    if (const json* v = find_member(j, "health"))
        if (auto ok = read_health(o, *v, t); !ok)
            return ok;
    if (const json* v = find_member(j, "offload"))
        if (auto ok = read_offload(o, *v, t); !ok)
            return ok;
    return read_marks(o, j, t);
}

} // namespace xfrmctl::model
