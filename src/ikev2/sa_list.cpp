#include "xfrmctl/ikev2/sa_list.hpp"

#include "xfrmctl/ikev2/charon_config.hpp"

#include <charconv>

namespace xfrmctl::ikev2 {

namespace {

using ordered_json = nlohmann::ordered_json;

std::string text(const ordered_json& o, const char* key)
{
    auto it = o.find(key);
    return it != o.end() && it->is_string() ? it->get<std::string>() : std::string();
}

std::optional<std::int64_t> number(const ordered_json& o, const char* key)
{
    std::string t = text(o, key);
    std::int64_t n = 0;
    auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), n);
    if (t.empty() || ec != std::errc() || end != t.data() + t.size())
        return std::nullopt;
    return n;
}

// "AES_GCM_16-256/PRF_HMAC_SHA2_384/CURVE_25519", leaving out what is absent.
std::string algorithms(const ordered_json& o, bool with_prf)
{
    std::string out = text(o, "encr-alg");
    if (auto bits = text(o, "encr-keysize"); !bits.empty())
        out += "-" + bits;
    for (const char* key : {"integ-alg", with_prf ? "prf-alg" : "", "dh-group"})
        if (auto a = *key ? text(o, key) : std::string(); !a.empty())
            out += "/" + a;
    return out;
}

std::optional<std::uint32_t> spi(const ordered_json& o, const char* key)
{
    std::string t = text(o, key);
    std::uint32_t v = 0;
    auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), v, 16);
    if (t.empty() || ec != std::errc())
        return std::nullopt;
    return v;
}

// A rekeying SA still carries traffic: its successor is on the way.
bool carries(const std::string& child_state)
{
    return child_state == "INSTALLED" || child_state == "REKEYING" || child_state == "REKEYED" ||
           child_state == "UPDATING";
}

bool alive(const std::string& ike_state)
{
    return ike_state == "ESTABLISHED" || ike_state == "REKEYING" || ike_state == "REKEYED";
}

void read_child(NegotiatedTunnel& n, const ordered_json& child, std::int64_t now)
{
    for (const char* key : {"spi-in", "spi-out"})
        if (auto s = spi(child, key))
            n.spis.push_back(*s);
    std::string state = text(child, "state");
    auto installed = number(child, "install-time");
    bool newer = !n.ike.child_installed || (installed && now - *installed > *n.ike.child_installed);
    if (!carries(state) || !newer)
        return;
    n.child_up = true;
    n.ike.child_state = state;
    n.ike.child_algorithms = algorithms(child, false);
    if (installed)
        n.ike.child_installed = now - *installed;
    if (auto rekey = number(child, "rekey-time"))
        n.ike.child_rekey = now + *rekey;
}

void read_ike(NegotiatedTunnel& n, const ordered_json& sa, std::int64_t now)
{
    std::string state = text(sa, "state");
    if (auto it = sa.find("child-sas"); it != sa.end() && it->is_object())
        for (const auto& [name, child] : it->items())
            read_child(n, child, now);
    if (n.ike_up && state != "ESTABLISHED")
        return; // an established one says more than one on its way
    n.ike.state = state;
    n.ike_up = alive(state);
    n.connecting = n.connecting || state == "CONNECTING";
    n.ike.ike_algorithms = algorithms(sa, true);
    n.ike.remote_id = text(sa, "remote-id");
    if (auto since = number(sa, "established"))
        n.ike.established = now - *since;
    if (auto rekey = number(sa, "rekey-time"))
        n.ike.ike_rekey = now + *rekey;
}

} // namespace

std::map<std::string, NegotiatedTunnel> read_sa_list(const std::vector<ordered_json>& events, std::int64_t now)
{
    std::map<std::string, NegotiatedTunnel> out;
    for (const auto& event : events) {
        if (!event.is_object())
            continue;
        for (const auto& [connection, sa] : event.items()) {
            auto tunnel = tunnel_of(connection);
            if (!tunnel || !sa.is_object())
                continue;
            read_ike(out[*tunnel], sa, now);
        }
    }
    for (auto& [name, n] : out)
        n.child_up = n.child_up && n.ike_up;
    return out;
}

} // namespace xfrmctl::ikev2
