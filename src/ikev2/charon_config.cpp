#include "xfrmctl/ikev2/charon_config.hpp"

#include "xfrmctl/plan/desired.hpp"

#include <fmt/format.h>
#include <netinet/in.h>

namespace xfrmctl::ikev2 {

std::string connection_name(const std::string& tunnel)
{
    return std::string(kConnectionPrefix) + tunnel;
}

std::optional<std::string> tunnel_of(std::string_view connection)
{
    if (!connection.starts_with(kConnectionPrefix))
        return std::nullopt;
    return std::string(connection.substr(kConnectionPrefix.size()));
}

double retransmit_give_up_seconds()
{
    double total = 0, timeout = kRetransmitTimeout;
    for (int i = 0; i <= kRetransmitTries; ++i, timeout *= kRetransmitBase)
        total += timeout;
    return total;
}

std::string strongswan_conf(const CharonPaths& p)
{
    // load_modular = no with an explicit list: the host's strongswan.d is
    // not read. The error-notify plugin carries charon's alerts to xfrmd.
    constexpr const char* kPlugins = "random nonce openssl pem pkcs1 pkcs8 x509 revocation constraints pubkey "
                                     "curve25519 gcm chapoly aes sha2 hmac kdf kernel-netlink socket-default "
                                     "vici error-notify";
    std::string daemon = fmt::format(R"(
    load_modular = no
    load = {plugins}
    install_routes = no
    install_virtual_ip = no
    retransmit_timeout = {timeout}
    retransmit_base = {base}
    retransmit_tries = {tries}
    retransmit_jitter = 0
    plugins {{
        vici {{
            socket = unix://{vici}
        }}
        error-notify {{
            socket = unix://{alerts}
        }}
    }}
    journal {{
        default = -1
    }}
    syslog {{
        daemon {{
            default = -1
        }}
    }}
    filelog {{
        xfrmd {{
            path = {log}
            time_format = %Y-%m-%dT%H:%M:%S
            default = 1
            ike_name = yes
            append = yes
            flush_line = yes
        }}
    }}
)",
                                     fmt::arg("plugins", kPlugins), fmt::arg("timeout", kRetransmitTimeout),
                                     fmt::arg("base", kRetransmitBase), fmt::arg("tries", kRetransmitTries),
                                     fmt::arg("vici", p.vici_socket.string()),
                                     fmt::arg("alerts", p.alert_socket.string()), fmt::arg("log", p.log_file.string()));
    // charon-systemd reads its own section and falls back to "charon".
    return "# written by xfrmd: the charon it runs; edits are overwritten\ncharon-systemd {" + daemon + "}\ncharon {" +
           daemon + "}\n";
}

namespace {

std::string selector_suffix(const model::Tunnel& t, bool local)
{
    if (!t.traffic)
        return "";
    const model::Traffic& tr = *t.traffic;
    std::uint16_t port = local ? tr.local_port : tr.remote_port;
    return port ? fmt::format("[{}/{}]", tr.protocol, port) : fmt::format("[{}]", tr.protocol);
}

ordered_json auth_round(const model::Tunnel& t, bool local, const Certificates* certs)
{
    const model::Ikev2& ike = *t.ikev2;
    ordered_json auth;
    const std::string& id = local ? ike.local_id : ike.remote_id;
    if (ike.psk_file) {
        auth["auth"] = "psk";
        auth["id"] = psk_identity(t, local);
    } else {
        auth["auth"] = "pubkey";
        if (certs)
            auth[local ? "certs" : "cacerts"] = {local ? certs->own : certs->ca};
        if (!id.empty())
            auth["id"] = id; // the local default is the certificate's subject
    }
    return auth;
}

std::string seconds(std::uint32_t s)
{
    return std::to_string(s) + "s";
}

ordered_json child_config(const model::Tunnel& t, std::uint32_t reqid)
{
    const model::Ikev2& ike = *t.ikev2;
    ordered_json child;
    child["local_ts"] = traffic_selectors(t, true);
    child["remote_ts"] = traffic_selectors(t, false);
    child["esp_proposals"] = ike.esp_proposals;
    child["mode"] = t.mode == netlink::Mode::tunnel ? "tunnel" : "transport";
    // charon's policies steer the traffic, xfrmd's are the floor behind them
    // (plan::kFloorSelectorUser says why).
    child["policies"] = "yes";
    child["priority"] = std::to_string(plan::charon_policy_priority(t));
    child["reqid"] = std::to_string(reqid);
    child["rekey_time"] = seconds(ike.child_rekey);
    child["life_time"] = seconds(ike.child_lifetime ? ike.child_lifetime : ike.child_rekey + ike.child_rekey / 10);
    if (ike.jitter)
        child["rand_time"] = seconds(ike.jitter);
    child["replay_window"] = std::to_string(t.replay_window);
    // xfrmd decides what follows a dead peer or a close (xfrmctl.json(5)).
    child["dpd_action"] = "clear";
    child["close_action"] = "none";
    child["start_action"] = "none";
    if (t.mark) {
        std::string mark = fmt::format("0x{:x}/0x{:x}", t.mark->value, t.mark->mask);
        child["mark_in"] = mark;
        child["mark_out"] = mark;
    }
    return child;
}

} // namespace

std::string psk_identity(const model::Tunnel& t, bool local)
{
    const std::string& configured = local ? t.ikev2->local_id : t.ikev2->remote_id;
    return configured.empty() ? (local ? t.local.address : t.remote.address).str() : configured;
}

std::vector<std::string> traffic_selectors(const model::Tunnel& t, bool local)
{
    std::vector<std::string> list;
    for (const auto& p : (local ? t.local : t.remote).subnets)
        list.push_back(p.str() + selector_suffix(t, local));
    return list;
}

ordered_json connection(const model::Tunnel& t, std::uint32_t reqid, const Certificates* certs)
{
    const model::Ikev2& ike = *t.ikev2;
    ordered_json c;
    c["version"] = "2";
    c["local_addrs"] = {t.local.address.str()};
    c["remote_addrs"] = {t.remote.address.str()};
    c["proposals"] = ike.ike_proposals;
    c["rekey_time"] = seconds(ike.ike_rekey);
    c["over_time"] = seconds(ike.ike_lifetime ? ike.ike_lifetime - ike.ike_rekey : ike.ike_rekey / 10);
    if (ike.jitter)
        c["rand_time"] = seconds(ike.jitter);
    c["dpd_delay"] = seconds(ike.dpd_interval);
    c["keyingtries"] = "1"; // xfrmd retries, with its own backoff
    c["unique"] = "replace"; // a peer that restarted replaces its old IKE SA
    c["mobike"] = "no";
    c["encap"] = "no";
    c["local"] = auth_round(t, true, certs);
    c["remote"] = auth_round(t, false, certs);
    c["children"][t.name] = child_config(t, reqid);
    return ordered_json{{connection_name(t.name), c}};
}

} // namespace xfrmctl::ikev2
