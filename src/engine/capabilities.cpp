#include "xfrmctl/engine/capabilities.hpp"

#include "probe_child.hpp"
#include "xfrmctl/model/diagnostic.hpp"
#include "xfrmctl/netlink/offload_device.hpp"
#include "xfrmctl/util/files.hpp"
#include "xfrmctl/util/unique_fd.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <limits>

namespace xfrmctl::engine {

std::string TransformProbe::describe() const
{
    return fmt::format("{}{} for {} over {}", proposal->keyword, esn ? " with ESN" : "",
                       protocol == model::Protocol::esp ? "ESP" : "AH", family_name(family));
}

namespace {

void add_unique(std::vector<TransformProbe>& list, const TransformProbe& p)
{
    if (std::find(list.begin(), list.end(), p) == list.end())
        list.push_back(p);
}

} // namespace

std::vector<TransformProbe> needed_transforms(const model::Definitions& defs)
{
    std::vector<TransformProbe> list;
    for (const auto& t : defs.tunnels) {
        if (!t.present)
            continue;
        if (t.esp_proposal)
            add_unique(list, {t.family(), model::Protocol::esp, t.esp_proposal, t.esn});
        if (t.ah_proposal)
            add_unique(list, {t.family(), model::Protocol::ah, t.ah_proposal, t.esn});
    }
    return list;
}

std::vector<TransformProbe> every_transform()
{
    std::vector<TransformProbe> list;
    for (std::uint16_t family : {std::uint16_t{AF_INET}, std::uint16_t{AF_INET6}})
        for (const char* keyword : {"aes128gcm16", "aes256gcm16", "chacha20poly1305", "aes128-sha256", "aes256-sha256",
                                    "aes256-sha512", "sha256", "sha384", "sha512"}) {
            const model::Proposal* p = model::find_proposal(keyword);
            list.push_back({family, p->is_esp() ? model::Protocol::esp : model::Protocol::ah, p, false});
        }
    list.push_back({std::uint16_t{AF_INET}, model::Protocol::esp, model::find_proposal("aes256gcm16"), true});
    return list;
}

Result<Capabilities> probe_kernel(const std::vector<TransformProbe>& transforms)
{
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0)
        return fail(Error::from_errno("cannot probe the kernel", errno));
    UniqueFd reader(fds[0]), writer(fds[1]);
    pid_t pid = fork();
    if (pid < 0)
        return fail(Error::from_errno("cannot probe the kernel", errno));
    if (pid == 0) {
        reader.reset();
        _exit(run_probe_child(transforms, writer.get()));
    }
    writer.reset();
    auto text = read_to_end(reader.get(), std::numeric_limits<std::size_t>::max());
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (!text)
        return fail(Error{"reading the kernel probe: " + text.error().message, text.error().errnum});
    return parse_probe_report(*text, transforms);
}

namespace {

// Where a missing module would have come from, if this kernel has modules.
std::string module_hint()
{
    std::string release = [] {
        char buf[256] = "";
        FILE* f = std::fopen("/proc/sys/kernel/osrelease", "r");
        if (f) {
            if (!std::fgets(buf, sizeof buf, f))
                buf[0] = 0;
            std::fclose(f);
        }
        std::string r = buf;
        if (!r.empty() && r.back() == '\n')
            r.pop_back();
        return r;
    }();
    std::string dir = "/lib/modules/" + release;
    if (access(dir.c_str(), F_OK) != 0)
        return "; this kernel has no loadable modules (" + dir + " does not exist), so it must be built in";
    return "";
}

std::string missing_message(const ProbeResult& r)
{
    const model::Proposal& p = *r.probe.proposal;
    std::string needs;
    if (r.error == EPROTONOSUPPORT) // the protocol itself: esp4, esp6, ah4, ah6
        needs = fmt::format("{} over {} needs the kernel's {}{}", r.probe.protocol == model::Protocol::esp ? "ESP" : "AH",
                            family_name(r.probe.family), r.probe.protocol == model::Protocol::esp ? "esp" : "ah",
                            r.probe.family == AF_INET ? "4" : "6");
    else if (r.probe.esn)
        needs = fmt::format("esn with {} needs the kernel's extended sequence numbers", p.keyword);
    else
        needs = fmt::format("{} needs the kernel's {}{}", p.keyword, p.first.name,
                            p.second ? " and " + std::string(p.second->name) : "");
    return fmt::format("{}; this kernel does not have it ({}){}", needs, r.reason, module_hint());
}

std::string place_of(const model::Tunnel& t, const ProbeResult& r)
{
    if (r.error == EPROTONOSUPPORT)
        return t.path() + "/protocol";
    if (r.probe.esn)
        return t.path() + "/esn";
    bool bundle = t.protocol == model::Protocol::ah_esp;
    return t.path() + "/proposal" + (bundle ? (r.probe.protocol == model::Protocol::esp ? "/esp" : "/ah") : "");
}

const ProbeResult* failure_for(const model::Tunnel& t, const Capabilities& caps)
{
    for (const auto& r : caps.transforms) {
        if (!r.error || r.probe.family != t.family() || r.probe.esn != t.esn)
            continue;
        if ((r.probe.protocol == model::Protocol::esp && r.probe.proposal == t.esp_proposal) ||
            (r.probe.protocol == model::Protocol::ah && r.probe.proposal == t.ah_proposal))
            return &r;
    }
    return nullptr;
}

// What a route-based tunnel needs that the kernel lacks, if anything.
std::optional<std::string> missing_interface(const model::Tunnel& t, const plan::KernelTraits& traits)
{
    netlink::LinkKind kind = plan::link_kind(t, traits);
    bool have = kind == netlink::LinkKind::xfrm ? traits.xfrm_interfaces
                : kind == netlink::LinkKind::vti ? traits.vti
                                                 : traits.vti6;
    if (have)
        return std::nullopt;
    if (!t.interface->kind)
        return "this kernel has neither XFRM interfaces (CONFIG_XFRM_INTERFACE) nor " +
               std::string(t.family() == AF_INET ? "VTI (CONFIG_NET_IPVTI)" : "IPv6 VTI (CONFIG_IPV6_VTI)");
    return fmt::format("\"kind\": \"{}\" needs the kernel's {} links, which this kernel does not have{}",
                       netlink::link_kind_name(*t.interface->kind), netlink::link_kind_name(kind), module_hint());
}

// What an offloading tunnel needs that the kernel lacks, if anything.
std::optional<model::Diagnostic> missing_offload(const model::Tunnel& t, const plan::KernelTraits& traits)
{
    if (!traits.crypto_offload)
        return model::Diagnostic{t.file, t.path() + "/offload",
                                 "this kernel cannot offload ESP to a device: it refused an offload request for an "
                                 "ESP SA (it needs CONFIG_XFRM_OFFLOAD and CONFIG_INET_ESP_OFFLOAD or "
                                 "CONFIG_INET6_ESP_OFFLOAD)" +
                                     module_hint()};
    if (t.offload->packet && !traits.packet_offload)
        return model::Diagnostic{t.file, t.path() + "/offload/mode",
                                 "this kernel lacks packet offload: it does not know XFRM_OFFLOAD_PACKET (\"Unrecognized "
                                 "flags in offload request\"; packet offload came with Linux 6.2): use \"mode\": "
                                 "\"crypto\""};
    return std::nullopt;
}

} // namespace

plan::KernelTraits assumed_traits()
{
    plan::KernelTraits t;
    t.xfrm_interfaces = true;
    t.crypto_offload = t.packet_offload = true;
    return t;
}

Status check_support(const model::Definitions& defs, const Capabilities& caps)
{
    for (const auto& t : defs.tunnels) {
        if (!t.present)
            continue;
        if (const ProbeResult* r = failure_for(t, caps))
            return fail(model::Diagnostic{t.file, place_of(t, *r), missing_message(*r)}.error());
        if (t.interface)
            if (auto missing = missing_interface(t, caps.traits))
                return fail(model::Diagnostic{t.file, t.path() + "/interface", *missing}.error());
        if (t.offload)
            if (auto missing = missing_offload(t, caps.traits))
                return fail(missing->error());
    }
    return {};
}

namespace {

// Why a device cannot take the tunnel's SAs, if it cannot.
std::optional<std::string> unfit_device(const std::string& name, const std::optional<netlink::OffloadDevice>& d)
{
    if (!d)
        return fmt::format("there is no network device \"{}\" on this host", name);
    if (!d->esp_hw_offload)
        return fmt::format("{} does not offload ESP (its esp-hw-offload feature is off; `ethtool -k {}` shows it): "
                           "the kernel would keep the SAs in software",
                           name, name);
    return std::nullopt;
}

} // namespace

Status find_offload_devices(const model::Definitions& defs, plan::KernelTraits& traits, bool strict)
{
    for (const auto& t : defs.tunnels) {
        if (!t.present || !t.offload || traits.offload_devices.contains(t.offload->device))
            continue;
        auto device = netlink::offload_device(t.offload->device);
        if (!device)
            return fail(model::Diagnostic{t.file, t.path() + "/offload/device", device.error().message}.error());
        if (auto why = unfit_device(t.offload->device, *device); why && strict)
            return fail(model::Diagnostic{t.file, t.path() + "/offload/device", *why}.error());
        if (*device)
            traits.offload_devices[t.offload->device] = (*device)->ifindex;
    }
    return {};
}

std::optional<netlink::LinkKind> interface_kind(const plan::KernelTraits& traits, std::uint16_t family)
{
    if (traits.xfrm_interfaces)
        return netlink::LinkKind::xfrm;
    if (family == AF_INET && traits.vti)
        return netlink::LinkKind::vti;
    if (family == AF_INET6 && traits.vti6)
        return netlink::LinkKind::vti6;
    return std::nullopt;
}

} // namespace xfrmctl::engine
