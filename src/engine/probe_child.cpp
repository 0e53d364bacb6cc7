#include "probe_child.hpp"

#include "xfrmctl/model/json_reader.hpp"
#include "xfrmctl/netlink/kernel.hpp"
#include "xfrmctl/plan/desired.hpp"

#include <netinet/in.h>
#include <nlohmann/json.hpp>
#include <sched.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace xfrmctl::engine {

using nlohmann::json;

namespace {

// Addresses from the benchmarking and documentation ranges: the probe's
// namespace is empty, so any pair would do.
netlink::SaEntry probe_sa(const TransformProbe& p, std::uint32_t spi)
{
    bool v4 = p.family == AF_INET;
    netlink::SaEntry sa;
    sa.id.daddr = *IpAddress::parse(v4 ? "198.18.0.2" : "2001:db8:ff::2");
    sa.saddr = *IpAddress::parse(v4 ? "198.18.0.1" : "2001:db8:ff::1");
    sa.id.spi = spi;
    sa.id.proto = p.protocol == model::Protocol::esp ? IPPROTO_ESP : IPPROTO_AH;
    sa.mode = netlink::Mode::transport;
    Secret key(p.proposal->key_file_bytes());
    std::memset(key.data(), 0x5a, key.size());
    plan::set_algorithms(sa, *p.proposal, &key);
    if (p.esn) {
        sa.flags |= XFRM_STATE_ESN;
        sa.replay_window = 32;
    }
    return sa;
}

// An SA given a direction, read back: only kernels that know XFRMA_SA_DIR
// (6.10 and later) report it; older ones ignore it.
bool probe_sa_dir(netlink::Kernel& kernel, const TransformProbe& working)
{
    netlink::SaEntry sa = probe_sa(working, 0x7fff0000);
    sa.dir = 1;
    netlink::Request add = netlink::build_sa(XFRM_MSG_NEWSA, sa);
    auto acks = kernel.execute(std::span(&add, 1));
    if (!acks || !(*acks)[0].ok())
        return false;
    auto got = kernel.sa(sa.id);
    return got && *got && (*got)->dir == 1;
}

// An IPComp SA (its CPI, in the SPI field, must fit 16 bits).
bool probe_ipcomp(netlink::Kernel& kernel, std::uint16_t family)
{
    bool v4 = family == AF_INET;
    netlink::SaEntry sa;
    sa.id = netlink::SaId{*IpAddress::parse(v4 ? "198.18.0.2" : "2001:db8:ff::2"), 0x9000, IPPROTO_COMP, {}};
    sa.saddr = *IpAddress::parse(v4 ? "198.18.0.1" : "2001:db8:ff::1");
    sa.mode = netlink::Mode::transport;
    sa.comp = netlink::SaAlgorithm{"deflate", 0, 0, {}, {}};
    netlink::Request add = netlink::build_sa(XFRM_MSG_NEWSA, sa);
    auto acks = kernel.execute(std::span(&add, 1));
    return acks && (*acks)[0].ok();
}

// Offload asked for on the loopback device (ifindex 1 in any namespace).
// Crypto offload: a kernel with ESP offload support (INET_ESP_OFFLOAD)
// takes the request and, lo having no xfrmdev_ops, installs the SA in
// software; without it xfrm_dev_state_add() answers "Type doesn't support
// offload" (net/xfrm/xfrm_device.c). Packet offload: a kernel before 6.2
// refuses the flag itself ("Unrecognized flags in offload request", same
// function); 6.2 and later know it and refuse lo for another reason (or
// none), so any other answer means the kernel has packet offload.
bool probe_offload(netlink::Kernel& kernel, const TransformProbe& working, bool packet)
{
    if (!working.proposal->is_esp())
        return false;
    netlink::SaEntry sa = probe_sa(working, packet ? 0x7fff0002 : 0x7fff0001);
    sa.offload = netlink::Offload{1, static_cast<std::uint8_t>(packet ? XFRM_OFFLOAD_PACKET : 0)};
    netlink::Request add = netlink::build_sa(XFRM_MSG_NEWSA, sa);
    auto acks = kernel.execute(std::span(&add, 1));
    if (!acks || !(*acks)[0].answered)
        return false;
    const netlink::Ack& ack = (*acks)[0];
    if (!packet)
        return ack.ok();
    return !(ack.error == EINVAL && ack.message.find("Unrecognized flags") != std::string::npos);
}

bool probe_link(netlink::Links& links, netlink::LinkKind kind, const char* name)
{
    netlink::LinkSpec spec{name, kind, 1, {}, {}, 0};
    if (kind == netlink::LinkKind::vti) {
        spec.local = *IpAddress::parse("198.18.0.1");
        spec.remote = *IpAddress::parse("198.18.0.2");
    } else if (kind == netlink::LinkKind::vti6) {
        spec.local = *IpAddress::parse("2001:db8:ff::1");
        spec.remote = *IpAddress::parse("2001:db8:ff::2");
    }
    return links.create(spec).has_value();
}

struct Found {
    bool sa_dir = false, crypto_offload = false, packet_offload = false;
};

// The probes that need a transform the kernel took: the direction with any,
// offload with the first ESP one.
void probe_with(netlink::Kernel& kernel, const TransformProbe& working, Found& found, bool& offload_probed)
{
    if (!found.sa_dir)
        found.sa_dir = probe_sa_dir(kernel, working);
    if (offload_probed || working.protocol != model::Protocol::esp)
        return;
    offload_probed = true;
    found.crypto_offload = probe_offload(kernel, working, false);
    found.packet_offload = found.crypto_offload && probe_offload(kernel, working, true);
}

json probe_transforms(netlink::Kernel& kernel, const std::vector<TransformProbe>& transforms, Found& found)
{
    std::vector<netlink::Request> requests;
    for (std::size_t i = 0; i < transforms.size(); ++i)
        requests.push_back(netlink::build_sa(XFRM_MSG_NEWSA, probe_sa(transforms[i], 0x1000 + static_cast<std::uint32_t>(i))));
    json results = json::array();
    auto acks = kernel.execute(requests);
    bool offload_probed = false;
    for (std::size_t i = 0; i < transforms.size(); ++i) {
        int error = acks ? (*acks)[i].error : EIO;
        results.push_back({{"error", error}, {"reason", acks ? (*acks)[i].describe() : acks.error().message}});
        if (error == 0)
            probe_with(kernel, transforms[i], found, offload_probed);
    }
    return results;
}

void write_all(int fd, const std::string& text)
{
    std::size_t done = 0;
    while (done < text.size()) {
        ssize_t n = ::write(fd, text.data() + done, text.size() - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return;
        done += static_cast<std::size_t>(n);
    }
}

} // namespace

int run_probe_child(const std::vector<TransformProbe>& transforms, int out_fd)
{
    json report;
    // Without CAP_SYS_ADMIN (xfrmd under its systemd unit), a network
    // namespace of our own user namespace serves as well: we hold
    // CAP_NET_ADMIN over it, and the kernel's algorithms are the same.
    if (unshare(CLONE_NEWNET) != 0 && unshare(CLONE_NEWUSER | CLONE_NEWNET) != 0) {
        report = {{"ok", false}, {"error", std::string("cannot create a network namespace to probe in: ") + std::strerror(errno)}};
        write_all(out_fd, report.dump());
        return 1;
    }
    auto kernel = netlink::Kernel::open();
    auto links = netlink::Links::open();
    if (!kernel || !links) {
        report = {{"ok", false}, {"error", !kernel ? kernel.error().message : links.error().message}};
        write_all(out_fd, report.dump());
        return 1;
    }
    Found found;
    report["transforms"] = probe_transforms(*kernel, transforms, found);
    report["sa_dir"] = found.sa_dir;
    report["crypto_offload"] = found.crypto_offload;
    report["packet_offload"] = found.packet_offload;
    report["xfrm"] = probe_link(*links, netlink::LinkKind::xfrm, "xfrmctlprobe0");
    report["vti"] = probe_link(*links, netlink::LinkKind::vti, "xfrmctlprobe1");
    report["vti6"] = probe_link(*links, netlink::LinkKind::vti6, "xfrmctlprobe2");
    report["ipcomp4"] = probe_ipcomp(*kernel, AF_INET);
    report["ipcomp6"] = probe_ipcomp(*kernel, AF_INET6);
    report["ok"] = true;
    write_all(out_fd, report.dump());
    return 0;
}

Result<Capabilities> parse_probe_report(const std::string& text, const std::vector<TransformProbe>& transforms)
{
    auto parsed = model::parse_json(text, "");
    if (!parsed)
        return fail("cannot probe the kernel: the probe's report is unreadable (" + parsed.error().where() + ")");
    try {
        const json& report = *parsed;
        if (!report.at("ok").get<bool>())
            return fail("cannot probe the kernel: " + report.at("error").get<std::string>() +
                        " (run as root, or give --no-probe)");
        Capabilities caps;
        caps.traits = {report.at("sa_dir"),  report.at("xfrm"),           report.at("vti"),
                       report.at("vti6"),    report.at("ipcomp4"),        report.at("ipcomp6"),
                       report.at("crypto_offload"), report.at("packet_offload"), {}};
        const json& results = report.at("transforms");
        for (std::size_t i = 0; i < transforms.size(); ++i)
            caps.transforms.push_back({transforms[i], results.at(i).at("error"), results.at(i).at("reason")});
        return caps;
    } catch (const json::exception& e) {
        return fail(std::string("cannot probe the kernel: the probe's report is unreadable (") + e.what() + ")");
    }
}

} // namespace xfrmctl::engine
