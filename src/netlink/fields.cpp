// The configuration fields of an SA and of a policy (fields.hpp): what
// describe(), same_config() and differences() of both are made of.
#include "xfrmctl/netlink/fields.hpp"

#include "xfrmctl/netlink/policy.hpp"
#include "xfrmctl/netlink/sa.hpp"

#include <fmt/format.h>
#include <linux/udp.h>

#include <array>

namespace xfrmctl::netlink {

std::string join_names(const std::vector<std::string>& names)
{
    std::string s;
    for (std::size_t i = 0; i < names.size(); ++i)
        s += (i == 0 ? "" : i + 1 == names.size() ? " and " : ", ") + names[i];
    return s;
}

namespace {

template <typename Entry, auto Member>
bool equal(const Entry& a, const Entry& b, bool)
{
    return a.*Member == b.*Member;
}

std::string mark_text(const char* word, const Mark& m)
{
    return m.is_set() ? fmt::format(" {} 0x{:x}/0x{:x}", word, m.value, m.mask) : "";
}

// " lifetime soft-seconds 3000 hard-seconds 3600": the limits that are set.
std::string lifetime_text(const Limits& l)
{
    std::string s;
    auto limit = [&s](const char* name, std::uint64_t value, std::uint64_t none) {
        if (value != none)
            s += fmt::format(" {} {}", name, value);
    };
    limit("soft-seconds", l.soft_add_seconds, 0);
    limit("hard-seconds", l.hard_add_seconds, 0);
    limit("soft-use-seconds", l.soft_use_seconds, 0);
    limit("hard-use-seconds", l.hard_use_seconds, 0);
    limit("soft-bytes", l.soft_bytes, kInfinite);
    limit("hard-bytes", l.hard_bytes, kInfinite);
    limit("soft-packets", l.soft_packets, kInfinite);
    limit("hard-packets", l.hard_packets, kInfinite);
    return s.empty() ? s : " lifetime" + s;
}

// --- SAs ---------------------------------------------------------------

std::string algorithm_text(const Boxed<SaAlgorithm>& a)
{
    if (!a)
        return "";
    std::string s = " " + a->name;
    if (a->key_bits)
        s += fmt::format(" key-bits {}", a->key_bits);
    if (a->icv_bits)
        s += fmt::format(" icv-bits {}", a->icv_bits);
    return s;
}

template <Boxed<SaAlgorithm> SaEntry::*Member>
EntryField<SaEntry> algorithm(const char* name)
{
    return {name, [](const SaEntry& e) { return algorithm_text(e.*Member); },
            [](const SaEntry& a, const SaEntry& b, bool) {
                const auto &x = a.*Member, &y = b.*Member;
                return x.has_value() == y.has_value() && (!x || x->same_as(*y, false));
            }};
}

// The key itself is never printed: only that it differs.
bool same_keys(const SaEntry& a, const SaEntry& b, bool keys)
{
    if (!keys)
        return true;
    for (auto m : {&SaEntry::aead, &SaEntry::crypt, &SaEntry::auth, &SaEntry::comp})
        if ((a.*m).has_value() && (b.*m).has_value() && (a.*m)->fingerprint != (b.*m)->fingerprint)
            return false;
    return true;
}

std::string sa_flags_text(const SaEntry& e)
{
    static constexpr std::array<std::pair<std::uint8_t, const char*>, 8> names{{
        {XFRM_STATE_NOECN, "noecn"}, {XFRM_STATE_DECAP_DSCP, "decap-dscp"}, {XFRM_STATE_NOPMTUDISC, "nopmtudisc"},
        {XFRM_STATE_WILDRECV, "wildrecv"}, {XFRM_STATE_ICMP, "icmp"}, {XFRM_STATE_AF_UNSPEC, "af-unspec"},
        {XFRM_STATE_ALIGN4, "align4"}, {XFRM_STATE_ESN, "esn"}}};
    std::string s;
    for (const auto& [bit, name] : names)
        if (e.flags & bit)
            s += (s.empty() ? " flag " : ",") + std::string(name);
    return s;
}

std::string encap_text(const SaEntry& e)
{
    if (!e.encap)
        return "";
    std::string type = e.encap->type == UDP_ENCAP_ESPINUDP ? "espinudp" : std::to_string(e.encap->type);
    return fmt::format(" encap {} {} -> {}", type, e.encap->sport, e.encap->dport);
}

std::string sa_dir_text(const SaEntry& e)
{
    return e.dir == 0 ? "" : e.dir == 1 ? " dir in" : e.dir == 2 ? " dir out" : fmt::format(" dir {}", e.dir);
}

// " offload crypto ifindex 3 in": the device by its index, as the kernel
// reports it (names are the caller's to resolve).
std::string offload_text(const SaEntry& e)
{
    if (!e.offload)
        return "";
    return fmt::format(" offload {} ifindex {} {}", offload_mode_name(*e.offload), e.offload->ifindex,
                       e.offload->inbound() ? "in" : "out");
}

// The flags the kernel reports back (copy_user_offload()): XFRM_OFFLOAD_IPV6
// never comes back, so it takes no part in the comparison.
bool same_offload(const SaEntry& a, const SaEntry& b, bool)
{
    constexpr std::uint8_t reported = XFRM_OFFLOAD_INBOUND | XFRM_OFFLOAD_PACKET;
    if (!a.offload || !b.offload)
        return a.offload.has_value() == b.offload.has_value();
    return a.offload->ifindex == b.offload->ifindex && (a.offload->flags & reported) == (b.offload->flags & reported);
}

const std::array<EntryField<SaEntry>, 19> kSaFields{{
    {"addresses", [](const SaEntry& e) { return fmt::format(" {} -> {}", e.saddr.str(), e.id.daddr.str()); },
     [](const SaEntry& a, const SaEntry& b, bool) { return a.saddr == b.saddr && a.id.daddr == b.id.daddr; }},
    {"protocol", [](const SaEntry& e) { return " " + std::string(protocol_name(e.id.proto)); },
     [](const SaEntry& a, const SaEntry& b, bool) { return a.id.proto == b.id.proto; }},
    {"spi", [](const SaEntry& e) { return fmt::format(" spi 0x{:08x}", e.id.spi); },
     [](const SaEntry& a, const SaEntry& b, bool) { return a.id.spi == b.id.spi; }},
    {"mode", [](const SaEntry& e) { return " " + std::string(mode_name(e.mode)); }, equal<SaEntry, &SaEntry::mode>},
    {"reqid", [](const SaEntry& e) { return fmt::format(" reqid {}", e.reqid); }, equal<SaEntry, &SaEntry::reqid>},
    algorithm<&SaEntry::aead>("aead algorithm"),
    algorithm<&SaEntry::crypt>("encryption algorithm"),
    algorithm<&SaEntry::auth>("integrity algorithm"),
    algorithm<&SaEntry::comp>("compression algorithm"),
    {"key", [](const SaEntry&) { return std::string(); }, same_keys},
    {"flags", sa_flags_text, equal<SaEntry, &SaEntry::flags>},
    {"replay window",
     [](const SaEntry& e) { return e.replay_window ? fmt::format(" replay-window {}", e.replay_window) : ""; },
     equal<SaEntry, &SaEntry::replay_window>},
    {"mark", [](const SaEntry& e) { return mark_text("mark", e.id.mark); },
     [](const SaEntry& a, const SaEntry& b, bool) { return a.id.mark == b.id.mark; }},
    {"lifetime", [](const SaEntry& e) { return lifetime_text(e.limits); }, equal<SaEntry, &SaEntry::limits>},
    {"encapsulation", encap_text, equal<SaEntry, &SaEntry::encap>},
    {"if_id", [](const SaEntry& e) { return e.if_id ? fmt::format(" if_id {}", e.if_id) : ""; },
     equal<SaEntry, &SaEntry::if_id>},
    {"output mark", [](const SaEntry& e) { return mark_text("output-mark", e.output_mark); },
     equal<SaEntry, &SaEntry::output_mark>},
    {"direction", sa_dir_text, equal<SaEntry, &SaEntry::dir>},
    {"offload", offload_text, same_offload},
}};

// --- Policies ----------------------------------------------------------

std::string template_text(const Template& t)
{
    std::string s = fmt::format(" tmpl {} {} reqid {}", protocol_name(t.proto), mode_name(t.mode), t.reqid);
    if (t.mode == Mode::tunnel || t.saddr.family || t.daddr.family)
        s += fmt::format(" {} -> {}", t.saddr.str(), t.daddr.str());
    if (t.spi)
        s += fmt::format(" spi 0x{:08x}", t.spi);
    if (t.optional)
        s += " optional";
    if (t.share != XFRM_SHARE_ANY)
        s += fmt::format(" share {}", t.share);
    if (t.aalgos != ~0u || t.ealgos != ~0u || t.calgos != ~0u)
        s += fmt::format(" algos 0x{:x}/0x{:x}/0x{:x}", t.aalgos, t.ealgos, t.calgos);
    return s;
}

std::string templates_text(const PolicyEntry& p)
{
    std::string s;
    for (const auto& t : p.templates)
        s += template_text(t);
    return s;
}

const std::array<EntryField<PolicyEntry>, 11> kPolicyFields{{
    {"direction", [](const PolicyEntry& p) { return " " + std::string(direction_name(p.id.dir)); },
     [](const PolicyEntry& a, const PolicyEntry& b, bool) { return a.id.dir == b.id.dir; }},
    {"selector", [](const PolicyEntry& p) { return " " + p.id.selector.str(); },
     [](const PolicyEntry& a, const PolicyEntry& b, bool) { return a.id.selector == b.id.selector; }},
    {"priority", [](const PolicyEntry& p) { return fmt::format(" priority {}", p.priority); },
     equal<PolicyEntry, &PolicyEntry::priority>},
    {"action", [](const PolicyEntry& p) { return std::string(p.action == XFRM_POLICY_BLOCK ? " block" : ""); },
     equal<PolicyEntry, &PolicyEntry::action>},
    {"templates", templates_text, equal<PolicyEntry, &PolicyEntry::templates>},
    {"flags", [](const PolicyEntry& p) { return p.flags ? fmt::format(" flags 0x{:x}", p.flags) : ""; },
     equal<PolicyEntry, &PolicyEntry::flags>},
    {"share", [](const PolicyEntry& p) { return p.share != XFRM_SHARE_ANY ? fmt::format(" share {}", p.share) : ""; },
     equal<PolicyEntry, &PolicyEntry::share>},
    {"lifetime", [](const PolicyEntry& p) { return lifetime_text(p.limits); }, equal<PolicyEntry, &PolicyEntry::limits>},
    {"mark", [](const PolicyEntry& p) { return mark_text("mark", p.id.mark); },
     [](const PolicyEntry& a, const PolicyEntry& b, bool) { return a.id.mark == b.id.mark; }},
    {"if_id", [](const PolicyEntry& p) { return p.id.if_id ? fmt::format(" if_id {}", p.id.if_id) : ""; },
     [](const PolicyEntry& a, const PolicyEntry& b, bool) { return a.id.if_id == b.id.if_id; }},
    {"type", [](const PolicyEntry& p) { return p.id.type != XFRM_POLICY_TYPE_MAIN ? fmt::format(" type {}", p.id.type) : ""; },
     [](const PolicyEntry& a, const PolicyEntry& b, bool) { return a.id.type == b.id.type; }},
}};

} // namespace

bool SaEntry::same_config(const SaEntry& o, bool compare_keys) const
{
    return same_fields<SaEntry>(kSaFields, *this, o, compare_keys);
}

std::vector<std::string> SaEntry::differences(const SaEntry& o, bool compare_keys) const
{
    return differing_fields<SaEntry>(kSaFields, *this, o, compare_keys);
}

std::string SaEntry::describe() const
{
    return describe_fields<SaEntry>("sa", kSaFields, *this);
}

bool PolicyEntry::same_config(const PolicyEntry& o) const
{
    return same_fields<PolicyEntry>(kPolicyFields, *this, o, true);
}

std::vector<std::string> PolicyEntry::differences(const PolicyEntry& o) const
{
    return differing_fields<PolicyEntry>(kPolicyFields, *this, o, true);
}

std::string PolicyEntry::describe() const
{
    return describe_fields<PolicyEntry>("policy", kPolicyFields, *this);
}

} // namespace xfrmctl::netlink
