// keying.method "ikev2": how the tunnel authenticates, what it proposes,
// when it rekeys and what happens to a dead peer (see xfrmctl.json(5)).
#include "ike_keywords.hpp"
#include "tunnel_reader.hpp"

#include <fmt/format.h>

namespace xfrmctl::model {

const char* start_name(Ikev2::Start s)
{
    return s == Ikev2::Start::now ? "now" : s == Ikev2::Start::on_demand ? "on_demand" : "respond";
}

const char* dpd_action_name(Ikev2::DpdAction a)
{
    return a == Ikev2::DpdAction::restart ? "restart" : a == Ikev2::DpdAction::trap ? "trap" : "clear";
}

namespace {

constexpr const char* kDefaultIkeProposal = "aes256gcm16-prfsha384-x25519";

Parsed<FileRef> read_file_ref(const Origin& o, const json& v, const std::string& at, const std::filesystem::path& base)
{
    auto text = read_file_name(o, v, at);
    if (!text)
        return std::unexpected(text.error());
    std::filesystem::path path(*text);
    return FileRef{path.is_absolute() ? path : base / path, *text, o.error(at, "").path};
}

Parsed<std::string> read_identity(const Origin& o, const json& v, const std::string& at)
{
    auto text = read_string(o, v, at);
    if (!text)
        return std::unexpected(text.error());
    if (text->empty() || text->size() > 255 || text->find_first_of("\"\n") != std::string::npos)
        return o.fail(at, "an identity is 1 to 255 characters, without quotes or line ends (like \"east.example\", "
                          "an address, or \"CN=east\")");
    return *text;
}

Parsed<std::vector<std::string>> read_proposals(const Origin& o, const json& v, const std::string& at, ProposalFor use)
{
    if (!v.is_array() || v.empty() || v.size() > 8)
        return o.fail(at, "expected a list of 1 to 8 proposals in strongSwan keywords, like "
                          "[\"aes256gcm16-prfsha384-x25519\"]");
    std::vector<std::string> list;
    for (std::size_t i = 0; i < v.size(); ++i) {
        std::string where = at + "/" + std::to_string(i);
        auto text = read_string(o, v[i], where);
        if (!text)
            return std::unexpected(text.error());
        if (auto why = check_strongswan_proposal(*text, use))
            return o.fail(where, *why);
        list.push_back(*text);
    }
    return list;
}

Parsed<void> read_authentication(const Origin& o, const json& k, Ikev2& ike, const std::filesystem::path& base)
{
    auto file = [&](const char* key, std::optional<FileRef>& into) -> Parsed<void> {
        if (const json* v = find_member(k, key)) {
            auto ref = read_file_ref(o, *v, std::string("/keying/") + key, base);
            if (!ref)
                return std::unexpected(ref.error());
            into = std::move(*ref);
        }
        return {};
    };
    for (auto [key, into] : {std::pair{"psk_file", &ike.psk_file}, {"certificate", &ike.certificate},
                             {"private_key", &ike.private_key}, {"ca", &ike.ca}})
        if (auto ok = file(key, *into); !ok)
            return ok;
    bool x509 = ike.certificate || ike.private_key || ike.ca;
    if (ike.psk_file && x509)
        return o.fail("/keying", "give either \"psk_file\" or \"certificate\", \"private_key\" and \"ca\", not both");
    if (!ike.psk_file && !x509)
        return o.fail("/keying", "missing authentication: give \"psk_file\", or \"certificate\", \"private_key\" and \"ca\"");
    for (auto [key, ref] : {std::pair{"certificate", &ike.certificate}, {"private_key", &ike.private_key}, {"ca", &ike.ca}})
        if (x509 && !*ref)
            return o.fail("/keying", fmt::format("missing field \"{}\": X.509 needs certificate, private_key and ca", key));
    return {};
}

Parsed<void> read_identities(const Origin& o, const json& k, Ikev2& ike)
{
    for (auto [key, into] : {std::pair{"local_id", &ike.local_id}, {"remote_id", &ike.remote_id}})
        if (const json* v = find_member(k, key)) {
            auto id = read_identity(o, *v, std::string("/keying/") + key);
            if (!id)
                return std::unexpected(id.error());
            *into = std::move(*id);
        }
    if (ike.uses_certificates() && ike.remote_id.empty())
        return o.fail("/keying", "missing field \"remote_id\": with certificates, name the identity the peer's "
                                 "certificate must carry (any certificate of the CA would do otherwise)");
    return {};
}

Parsed<void> read_rekey(const Origin& o, const json& k, Ikev2& ike)
{
    const json* v = find_member(k, "rekey");
    if (!v)
        return {};
    if (!v->is_object())
        return o.fail("/keying/rekey", fmt::format("expected an object like {{\"child\": 3600, \"ike\": 14400}}, got {} ({})",
                                                   type_name(*v), brief(*v)));
    if (auto ok = check_keys(o, *v, "/keying/rekey", {"ike", "child", "jitter", "ike_lifetime", "child_lifetime"}); !ok)
        return ok;
    const std::string at = "/keying/rekey";
    auto ok = read_u32_field(o, *v, at, "ike", 30, 86400 * 7, ike.ike_rekey);
    if (ok)
        ok = read_u32_field(o, *v, at, "child", 10, 86400, ike.child_rekey);
    // Bounds that depend on the rekey times: read after them.
    if (ok)
        ok = read_u32_field(o, *v, at, "jitter", 0, std::min(ike.ike_rekey, ike.child_rekey) / 2, ike.jitter);
    // A lifetime must leave time to rekey before it ends.
    if (ok)
        ok = read_u32_field(o, *v, at, "ike_lifetime", ike.ike_rekey + 1ull, 86400 * 14, ike.ike_lifetime);
    if (ok)
        ok = read_u32_field(o, *v, at, "child_lifetime", ike.child_rekey + 1ull, 86400 * 2, ike.child_lifetime);
    return ok;
}

Parsed<void> read_dpd(const Origin& o, const json& k, Ikev2& ike)
{
    const json* v = find_member(k, "dpd");
    if (!v)
        return {};
    if (!v->is_object())
        return o.fail("/keying/dpd", fmt::format("expected an object like {{\"interval\": 30, \"action\": \"restart\"}}, got {} ({})",
                                                 type_name(*v), brief(*v)));
    if (auto ok = check_keys(o, *v, "/keying/dpd", {"interval", "action"}); !ok)
        return ok;
    if (auto ok = read_u32_field(o, *v, "/keying/dpd", "interval", 0, 3600, ike.dpd_interval); !ok)
        return ok;
    if (v->contains("action")) {
        auto a = read_choice(o, (*v)["action"], "/keying/dpd/action", {"restart", "trap", "clear"});
        if (!a)
            return std::unexpected(a.error());
        ike.dpd_action = *a == "restart" ? Ikev2::DpdAction::restart
                         : *a == "trap"  ? Ikev2::DpdAction::trap
                                         : Ikev2::DpdAction::clear;
    }
    return {};
}

Parsed<void> read_start(const Origin& o, const json& k, Ikev2& ike)
{
    if (const json* v = find_member(k, "start")) {
        auto s = read_choice(o, *v, "/keying/start", {"now", "on_demand", "respond"});
        if (!s)
            return std::unexpected(s.error());
        ike.start = *s == "now" ? Ikev2::Start::now : *s == "on_demand" ? Ikev2::Start::on_demand : Ikev2::Start::respond;
    }
    return {};
}

// ESP proposals: as given, else the tunnel's "proposal" with the IKE
// proposal's group for perfect forward secrecy.
Parsed<void> read_esp_proposals(const Origin& o, const json& k, const Tunnel& t, Ikev2& ike)
{
    if (const json* v = find_member(k, "esp_proposals")) {
        auto list = read_proposals(o, *v, "/keying/esp_proposals", ProposalFor::esp);
        if (!list)
            return std::unexpected(list.error());
        ike.esp_proposals = std::move(*list);
        return {};
    }
    std::string esp = t.esp_proposal ? std::string(t.esp_proposal->keyword) : "aes256gcm16";
    ike.esp_proposals = {esp + "-" + dh_group_of(ike.ike_proposals.front()).value_or("x25519")};
    return {};
}

} // namespace

Parsed<void> read_ikev2_keying(const Origin& o, const json& k, Tunnel& t, const std::filesystem::path& base_dir)
{
    if (auto ok = check_keys(o, k, "/keying", kIkev2KeyingFields); !ok)
        return ok;
    Ikev2 ike;
    ike.path = o.error("/keying", "").path;
    ike.secret_id = t.file + "#" + t.path() + "/keying/secret";
    ike.ike_proposals = {kDefaultIkeProposal};
    if (const json* v = find_member(k, "ike_proposals")) {
        auto list = read_proposals(o, *v, "/keying/ike_proposals", ProposalFor::ike);
        if (!list)
            return std::unexpected(list.error());
        ike.ike_proposals = std::move(*list);
    }
    auto ok = read_authentication(o, k, ike, base_dir);
    for (auto step : {read_identities, read_rekey, read_dpd, read_start})
        if (ok)
            ok = step(o, k, ike);
    if (ok)
        ok = read_esp_proposals(o, k, t, ike);
    if (!ok)
        return ok;
    t.ikev2 = std::move(ike);
    return {};
}

// What charon cannot do with policies it does not own, or what this build
// does not drive yet, refused where the operator wrote it.
Parsed<void> check_ikev2_fit(const Origin& o, const json& j, Tunnel& t)
{
    if (!t.ikev2)
        return {};
    if (t.protocol != Protocol::esp)
        return o.fail("/protocol", "ikev2 tunnels are ESP here: AH is not negotiated by this build");
    for (const char* key : {"lifetime", "encapsulation", "interface", "output_mark"})
        if (find_member(j, key))
            return o.fail(std::string("/") + key,
                          std::string(key) == "lifetime"        ? "ikev2 tunnels take their lifetimes from keying.rekey"
                          : std::string(key) == "encapsulation" ? "charon detects NAT and encapsulates by itself; ikev2 "
                                                                  "tunnels through NAT are not supported by this build"
                                                                : "not supported with ikev2 keying by this build");
    if (!t.esn)
        return {};
    for (std::size_t i = 0; i < t.ikev2->esp_proposals.size(); ++i) {
        std::string& p = t.ikev2->esp_proposals[i];
        std::string dashed = "-" + p + "-";
        if (dashed.find("-noesn-") != std::string::npos)
            return o.fail("/keying/esp_proposals/" + std::to_string(i),
                          fmt::format("\"{}\" says noesn but the tunnel says \"esn\": true", p));
        if (dashed.find("-esn-") == std::string::npos)
            p += "-esn";
    }
    return {};
}

} // namespace xfrmctl::model
