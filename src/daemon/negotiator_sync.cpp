// Keeping charon's connections in line with the ikev2 tunnels, reading its
// SAs back, and deciding when to negotiate.
#include "negotiator.hpp"

#include <fmt/format.h>

#include <fstream>
#include <sstream>

namespace xfrmctl::daemon {

namespace {

constexpr std::int64_t kInitiateSeconds = 15; // an attempt in flight; charon gives up after ~8 s
constexpr std::int64_t kMaxBackoff = 10;
constexpr std::int64_t kAcquireSeconds = 30;

std::string read_text(const std::filesystem::path& file)
{
    std::ifstream in(file);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
}

std::span<const std::byte> as_bytes(const Secret& s)
{
    return std::as_bytes(s.bytes());
}

// Tells a changed secret apart without keeping it in the digest.
std::string fingerprint_text(const Secret& s)
{
    std::string out;
    for (std::uint8_t b : netlink::fingerprint_of(s.bytes()))
        out += fmt::format("{:02x}", b);
    return out;
}

} // namespace

void Negotiator::configure(const std::vector<IkeTunnel>& tunnels, const model::KeyRing& keys)
{
    std::map<std::string, Peer> next;
    for (const auto& want : tunnels) {
        const model::Tunnel& t = *want.tunnel;
        const model::Ikev2& ike = *t.ikev2;
        Peer p;
        if (auto old = peers_.find(t.name); old != peers_.end())
            p = std::move(old->second);
        bool fresh = p.reqid == 0;
        p.tunnel = t;
        p.reqid = want.reqid;
        if (const Secret* s = keys.find(ike.secret_id))
            p.secret = Secret::copy_of(s->bytes());
        if (ike.uses_certificates())
            p.certificates = {read_text(ike.certificate->file), read_text(ike.ca->file)};
        p.digest = ikev2::connection(p.tunnel, p.reqid, nullptr).dump() + p.certificates.own + p.certificates.ca +
                   fingerprint_text(p.secret);
        if (fresh) // what to do when it is not up; kept across reloads
            p.mode = ike.start == model::Ikev2::Start::now         ? Mode::keep_up
                     : ike.start == model::Ikev2::Start::on_demand ? Mode::on_acquire
                                                                   : Mode::passive;
        next.emplace(t.name, std::move(p));
    }
    for (const auto& [name, p] : peers_)
        if (!next.contains(name) && connected())
            if (auto ok = unload(name); !ok)
                journal_.warning("cannot remove " + name + " from charon: " + ok.error().message);
    peers_ = std::move(next);
}

Status Negotiator::unload(const std::string& tunnel)
{
    std::string name = ikev2::connection_name(tunnel);
    // Closing first: unloading a connection leaves its SAs up in charon.
    (void)commands_->call("terminate", ikev2::ordered_json{{"ike", name}, {"timeout", "-1"}, {"force", "yes"}});
    auto reply = commands_->call("unload-conn", ikev2::ordered_json{{"name", name}});
    if (!reply)
        return fail(reply.error());
    (void)commands_->call("unload-shared", ikev2::ordered_json{{"id", name}});
    journal_.event("ike-removed", {{"tunnel", tunnel}});
    return {};
}

Status Negotiator::load_secrets(const Peer& p)
{
    const model::Ikev2& ike = *p.tunnel.ikev2;
    ikev2::ViciWriter body;
    if (ike.psk_file) {
        body.key_value("id", ikev2::connection_name(p.tunnel.name)).key_value("type", "IKE");
        body.key_value("data", as_bytes(p.secret)).begin_list("owners");
        body.list_item(ikev2::psk_identity(p.tunnel, true)).list_item(ikev2::psk_identity(p.tunnel, false));
        body.end_list();
        auto reply = commands_->call("load-shared", body);
        return reply ? ikev2::expect_success(*reply, "load-shared") : Status(fail(reply.error()));
    }
    body.key_value("type", "any").key_value("data", as_bytes(p.secret));
    auto reply = commands_->call("load-key", body);
    return reply ? ikev2::expect_success(*reply, "load-key " + ike.private_key->written_as) : Status(fail(reply.error()));
}

Status Negotiator::load_peer(Peer& p)
{
    if (auto ok = load_secrets(p); !ok)
        return ok;
    const ikev2::Certificates* certs = p.tunnel.ikev2->uses_certificates() ? &p.certificates : nullptr;
    auto reply = commands_->call("load-conn", ikev2::connection(p.tunnel, p.reqid, certs));
    if (!reply)
        return fail(reply.error());
    if (auto ok = ikev2::expect_success(*reply, "load-conn"); !ok)
        return ok;
    p.loaded_digest = p.digest;
    journal_.event("ike-loaded", {{"tunnel", p.tunnel.name}, {"reqid", p.reqid}});
    return {};
}

void Negotiator::unload_stale()
{
    auto reply = commands_->call("get-conns");
    if (!reply)
        return disconnect(reply.error().message);
    stale_checked_ = true;
    auto conns = reply->find("conns");
    if (conns == reply->end() || !conns->is_array())
        return;
    for (const auto& name : *conns)
        if (auto tunnel = ikev2::tunnel_of(name.get<std::string>()); tunnel && !peers_.contains(*tunnel))
            (void)unload(*tunnel);
}

void Negotiator::sync(std::int64_t now)
{
    if (!stale_checked_)
        unload_stale();
    for (auto& [name, p] : peers_) {
        if (!connected())
            return;
        if (p.digest == p.loaded_digest)
            continue;
        bool reload = !p.loaded_digest.empty();
        if (auto ok = load_peer(p); !ok) {
            p.last_alert = p.last_reason = ok.error().message;
            journal_.error("charon refused tunnel " + name + ": " + ok.error().message);
            p.loaded_digest = p.digest; // said once; retried when the definition changes
            continue;
        }
        if (reload && p.seen && p.seen->ike_up) // new settings: negotiate afresh
            (void)commands_->call("terminate", ikev2::ordered_json{{"ike", ikev2::connection_name(name)}, {"timeout", "-1"}});
        p.next_try = now;
    }
}

void Negotiator::refresh(std::int64_t now)
{
    // Without "noblock": charon would skip an IKE SA one of its threads has
    // checked out (enumerator_filter_skip in sa/ike_sa_manager.c), which an
    // IKE rekey does, and the tunnel would look down for that moment.
    auto list = commands_->call_streaming("list-sas", ikev2::ordered_json::object(), "list-sa");
    if (!list)
        return disconnect(list.error().message);
    auto seen = ikev2::read_sa_list(*list, now);
    for (auto& [name, p] : peers_) {
        auto it = seen.find(name);
        p.seen = it == seen.end() ? std::nullopt : std::optional(it->second);
    }
    note_transitions(now);
}

void Negotiator::initiate(Peer& p, std::int64_t now, const std::string& why)
{
    std::string name = ikev2::connection_name(p.tunnel.name);
    auto reply = commands_->call("initiate", ikev2::ordered_json{{"child", p.tunnel.name}, {"ike", name}, {"timeout", "-1"}});
    if (!reply)
        return disconnect(reply.error().message);
    p.initiated_at = now;
    p.attempts++;
    p.next_try = now + std::min<std::int64_t>(kMaxBackoff, 1LL << std::min(p.attempts, 4));
    journal_.event("ike-initiate", {{"tunnel", p.tunnel.name}, {"reason", why}, {"attempt", p.attempts}});
}

// A CHILD SA that cannot be had inside the standing IKE SA (the peer
// refused one, or one try there failed) is negotiated with a fresh IKE SA:
// the CHILD SA of IKE_AUTH carries no key exchange, so a peer without a
// key-exchange group in its esp_proposals accepts it where it refuses a
// rekey with PFS. Retrying inside the same IKE SA would fail for good.
bool Negotiator::child_needs_fresh_ike(const Peer& p) const
{
    return p.seen && p.seen->ike_up && !p.seen->child_up && (!p.child_refusal.empty() || p.child_tries > 0);
}

void Negotiator::restart_ike(Peer& p, std::int64_t now)
{
    // The peer's refusal as charon said it, else whatever charon said last
    // (an IKE_AUTH whose CHILD SA failed says it before the IKE SA is seen up).
    bool refused_inside = !p.child_refusal.empty(); // a rekey, or a CHILD SA of its own exchange
    if (refused_inside)
        p.last_alert = p.child_refusal;
    std::string refusal = p.last_alert.empty() ? "a new CHILD SA failed" : p.last_alert;
    p.last_reason = "the CHILD SA cannot be negotiated inside its IKE SA (" + refusal + "); negotiating a fresh IKE SA";
    if (refused_inside)
        p.last_reason += " (a peer without a key-exchange group in its esp_proposals refuses a rekey with PFS)";
    (void)commands_->call("terminate", ikev2::ordered_json{{"ike", ikev2::connection_name(p.tunnel.name)},
                                                           {"timeout", "-1"}, {"force", "yes"}});
    journal_.event("ike-restart", {{"tunnel", p.tunnel.name}, {"reason", p.last_reason}});
    p.last_restart = p.last_reason;
    p.restarted = now;
    p.child_tries = 0;
    p.child_refusal.clear();
    p.restarting = true;
    p.next_try = now + 1; // once charon has let the old IKE SA go
}

void Negotiator::keep_up(std::int64_t now)
{
    for (auto& [name, p] : peers_) {
        bool up = p.seen && p.seen->child_up;
        bool busy = p.seen && p.seen->connecting && now - p.initiated_at < kInitiateSeconds;
        // An acquire stands while the kernel's larval SA holds the traffic
        // back (net.core.xfrm_acq_expires, 30 s): the kernel asks no more.
        bool wanted = p.mode == Mode::keep_up || (p.mode == Mode::on_acquire && now - p.acquired_at < kAcquireSeconds);
        if (up || busy || p.held || !wanted || now < p.next_try || p.loaded_digest.empty())
            continue;
        if (child_needs_fresh_ike(p)) {
            restart_ike(p, now);
            continue;
        }
        if (p.seen && p.seen->ike_up)
            p.child_tries++;
        initiate(p, now, p.mode == Mode::on_acquire ? "traffic (the kernel's acquire)" : p.attempts ? "not up yet" : "start");
        if (!connected())
            return;
    }
}

// Also before charon is ready: the acquire is kept and acted on once the
// connection is loaded.
void Negotiator::on_acquire(std::uint32_t reqid, std::int64_t now)
{
    for (auto& [name, p] : peers_)
        if (p.reqid == reqid) {
            p.acquired_at = now;
            if (p.mode == Mode::on_acquire && now - p.initiated_at >= kInitiateSeconds)
                p.next_try = now;
        }
    if (connected())
        keep_up(now);
}

void Negotiator::hold(const std::string& tunnel, bool held)
{
    auto it = peers_.find(tunnel);
    if (it == peers_.end() || it->second.held == held)
        return;
    it->second.held = held;
    if (held && connected())
        (void)commands_->call("terminate", ikev2::ordered_json{{"ike", ikev2::connection_name(tunnel)}, {"timeout", "-1"}, {"force", "yes"}});
    if (!held)
        it->second.next_try = 0;
}

} // namespace xfrmctl::daemon
