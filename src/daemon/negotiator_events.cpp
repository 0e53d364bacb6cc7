// What charon tells xfrmd: its events (SAs up, down, rekeyed) and its
// alerts (why a negotiation failed), and how they show in status.
#include "negotiator.hpp"

#include <fmt/format.h>
#include <poll.h>

namespace xfrmctl::daemon {

namespace {

bool readable(int fd)
{
    pollfd p{fd, POLLIN, 0};
    return ::poll(&p, 1, 0) > 0;
}

} // namespace

// Alerts first: charon raises the alert (why) before the event it causes
// (an IKE SA destroyed after its retransmissions timed out), and a dead
// peer is told by the alert arriving while the tunnel still counts as up.
void Negotiator::on_readable(std::int64_t now)
{
    if (alerts_) {
        auto alerts = alerts_->read_available();
        if (!alerts) {
            journal_.warning(alerts.error().message);
            alerts_.reset();
        } else {
            for (const auto& a : *alerts)
                on_alert(a, now);
        }
    }
    while (events_ && (events_->has_queued_events() || readable(events_->fd()))) {
        auto e = events_->read_event(std::chrono::milliseconds(1000));
        if (!e)
            return disconnect(e.error().message);
        on_vici_event(*e, now);
    }
}

Negotiator::Peer* Negotiator::peer_of_connection(const std::string& connection)
{
    auto tunnel = ikev2::tunnel_of(connection);
    auto it = tunnel ? peers_.find(*tunnel) : peers_.end();
    return it == peers_.end() ? nullptr : &it->second;
}

// "192.0.2.2[500]": charon knows the peer's address before its connection.
Negotiator::Peer* Negotiator::peer_of_address(const std::string& address)
{
    std::string host = address.substr(0, address.find('['));
    for (auto& [name, p] : peers_)
        if (p.tunnel.remote.address.str() == host)
            return &p;
    return nullptr;
}

void Negotiator::on_vici_event(const ikev2::ViciEvent& e, std::int64_t now)
{
    for (const auto& [connection, sa] : e.message.items()) {
        Peer* p = peer_of_connection(connection);
        if (!p || !sa.is_object())
            continue;
        bool up = e.message.contains("up");
        if (e.name == "ike-rekey" || e.name == "child-rekey")
            journal_.event(e.name == "ike-rekey" ? "ike-rekeyed" : "child-rekeyed", {{"tunnel", p->tunnel.name}});
        else if (!up && e.name == "child-updown")
            journal_.event("child-down", {{"tunnel", p->tunnel.name}});
    }
    refresh(now); // the picture afresh: events say what changed, list-sas what is
}

void Negotiator::on_alert(const ikev2::Alert& a, std::int64_t now)
{
    Peer* p = a.connection.empty() ? peer_of_address(a.peer_address) : peer_of_connection(a.connection);
    if (!p || !a.is_failure())
        return;
    bool generic_auth = a.type == 2 || a.type == 3; // local or peer authentication failed
    bool keep = generic_auth && p->alert_names_certificate && now - p->alert_at <= 10;
    // While the tunnel is up, a failed side attempt (a late retransmission, a
    // peer's duplicate IKE_SA) is not why it is down: journaled, not shown as
    // the reason. A dead peer is the exception: the tunnel is going down.
    bool child_refused = a.type == 9 /* PROPOSAL_MISMATCH_CHILD */ || a.type == 10 /* TS_MISMATCH */;
    bool side_attempt = (p->was_up && a.type != 6 /* RETRANSMIT_SEND_TIMEOUT */) || (p->restarting && child_refused);
    if (!keep && !side_attempt) { // the certificate's own problem says more than the failure it causes
        p->last_alert = a.text;
        p->last_reason = ikev2::operator_reason(a, p->tunnel.ikev2->psk_file.has_value());
        p->alert_names_certificate = a.is_certificate_problem();
        p->alert_at = now;
    }
    journal_.event("ike-alert", {{"tunnel", p->tunnel.name}, {"alert", a.text}, {"type", a.type}});
    // The peer refused a CHILD SA inside the standing IKE SA (a rekey, most
    // often): keep_up() negotiates a fresh IKE SA once the CHILD SA is gone.
    if (child_refused && p->seen && p->seen->ike_up)
        p->child_refusal = a.text;
    // An established tunnel whose peer stopped answering: dead-peer detection.
    // Also when the two streams crossed and the IKE SA's end was read first
    // (stop 13's clean-clone run: ike-down, then this alert, same second).
    bool up_lately = p->was_up || now - p->down_at <= 1;
    if (a.type == 6 /* RETRANSMIT_SEND_TIMEOUT */ && up_lately) {
        using Action = model::Ikev2::DpdAction;
        Action action = p->tunnel.ikev2->dpd_action;
        p->mode = action == Action::restart ? Mode::keep_up : action == Action::trap ? Mode::on_acquire : Mode::passive;
        p->next_try = now;
        p->attempts = 0;
        journal_.event("dead-peer", {{"tunnel", p->tunnel.name}, {"action", model::dpd_action_name(action)}});
    }
}

void Negotiator::note_transitions(std::int64_t now)
{
    for (auto& [name, p] : peers_) {
        bool up = p.seen && p.seen->child_up;
        if (up == p.was_up)
            continue;
        p.was_up = up;
        if (up) {
            p.attempts = 0;
            p.child_tries = 0;
            p.child_refusal.clear();
            p.restarting = false;
            p.last_alert.clear();
            p.last_reason.clear();
            const auto& ike = p.seen->ike;
            journal_.event("ike-up", {{"tunnel", name}, {"ike", ike.ike_algorithms}, {"child", ike.child_algorithms}});
        } else {
            p.down_at = now;
            journal_.event("ike-down", {{"tunnel", name}, {"reason", p.last_alert}});
            p.next_try = std::max(p.next_try, now);
        }
    }
}

std::optional<std::set<std::uint32_t>> Negotiator::charon_spis(const std::string& tunnel) const
{
    auto it = peers_.find(tunnel);
    if (!connected() || it == peers_.end())
        return std::nullopt;
    const Peer& p = it->second;
    return p.seen ? std::set<std::uint32_t>(p.seen->spis.begin(), p.seen->spis.end()) : std::set<std::uint32_t>();
}

void Negotiator::overlay(std::vector<engine::TunnelStatus>& status) const
{
    for (auto& s : status) {
        auto it = peers_.find(s.name);
        if (it == peers_.end())
            continue;
        const Peer& p = it->second;
        engine::IkeStatus ike = p.seen ? p.seen->ike : engine::IkeStatus{};
        ike.last_alert = p.last_alert;
        ike.last_restart = p.last_restart;
        if (!p.last_restart.empty())
            ike.restarted = p.restarted;
        s.ike = ike;
        std::string why = !connected()        ? down_reason_
                          : p.held            ? "taken down by xfrmctl down (until the next apply)"
                          : !p.last_reason.empty() ? "IKE failed: " + p.last_reason
                          : !p.seen           ? (p.mode == Mode::keep_up ? "IKE negotiating" : "IKE not started (" +
                                                    std::string(p.mode == Mode::on_acquire ? "waits for traffic" : "waits for the peer") + ")")
                                              : "IKE SA " + ike.state + ", CHILD SA " + ike.child_state;
        if (!(p.seen && p.seen->child_up)) { // IKE's reason says more than "no SA"
            s.health = engine::Health::down;
            s.reason = why;
        }
        else if (s.health == engine::Health::down && s.reason.starts_with("no negotiated"))
            s.reason = "IKE up but " + s.reason.substr(0, s.reason.find(':')); // the kernel lost charon's SA
    }
}

} // namespace xfrmctl::daemon
