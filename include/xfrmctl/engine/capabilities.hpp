// What the running kernel can carry, found by asking it rather than by its
// version number: each probe tries the real thing (an SA with the
// algorithm, an interface of the kind) in a throwaway network namespace of
// a forked child, so nothing of the caller's namespace is touched.
#pragma once

#include "xfrmctl/model/definition.hpp"
#include "xfrmctl/netlink/links.hpp"
#include "xfrmctl/plan/desired.hpp"
#include "xfrmctl/util/result.hpp"

#include <optional>
#include <string>
#include <vector>

namespace xfrmctl::engine {

// One transform to try: a protocol over a family with a proposal.
struct TransformProbe {
    std::uint16_t family = 0;
    model::Protocol protocol = model::Protocol::esp; // esp or ah
    const model::Proposal* proposal = nullptr;
    bool esn = false;

    std::string describe() const; // "aes256gcm16 for ESP over IPv4"
    bool operator==(const TransformProbe&) const = default;
};

struct ProbeResult {
    TransformProbe probe;
    int error = 0; // 0: supported
    std::string reason; // the kernel's, when not
};

struct Capabilities {
    plan::KernelTraits traits;
    std::vector<ProbeResult> transforms;
};

// The transforms a set of definitions needs, each once.
std::vector<TransformProbe> needed_transforms(const model::Definitions& defs);
// Every transform this program knows, over both families.
std::vector<TransformProbe> every_transform();

Result<Capabilities> probe_kernel(const std::vector<TransformProbe>& transforms);

// What --no-probe assumes: a modern kernel (XFRM interfaces, offload; SAs
// without a direction). What it lacks, the kernel's own errors say.
plan::KernelTraits assumed_traits();

// One message (file, JSON path, what is missing) for the first tunnel that
// needs what the kernel lacks.
Status check_support(const model::Definitions& defs, const Capabilities& caps);

// The devices that tunnels offload to, looked up in the caller's network
// namespace (the probe's own is empty): their ifindex goes into
// traits.offload_devices. Strict (before writing), a device that is missing
// or does not advertise esp-hw-offload is refused, naming the file and
// /tunnels/NAME/offload/device; otherwise (status) it is left out.
Status find_offload_devices(const model::Definitions& defs, plan::KernelTraits& traits, bool strict);

// The interface kind for a tunnel's family on this kernel: an XFRM
// interface where the kernel has them, else VTI; nullopt when neither.
std::optional<netlink::LinkKind> interface_kind(const plan::KernelTraits& traits, std::uint16_t family);

} // namespace xfrmctl::engine
