// What the kernel should hold for each tunnel: its SAs and policies, built
// from the definitions. Pure: no kernel, no files.
#pragma once

#include "xfrmctl/model/definition.hpp"
#include "xfrmctl/model/keys.hpp"
#include "xfrmctl/netlink/policy.hpp"
#include "xfrmctl/netlink/sa.hpp"

#include <string>
#include <vector>

namespace xfrmctl::plan {

struct DesiredSa {
    netlink::SaEntry entry;
    std::string origin;   // JSON path of its {spi, key_file}
    std::string key_file; // as the operator wrote it (never the key)
    bool outbound = false;
    bool aead = false;
};

struct DesiredPolicy {
    netlink::PolicyEntry entry;
    std::string origin; // JSON path of the subnets that made it
};

struct DesiredTunnel {
    std::string name;
    std::string file;
    std::uint32_t reqid = 0;
    std::vector<DesiredSa> sas;
    std::vector<DesiredPolicy> policies;
};

// With keys == nullptr the SAs carry no key material (for status, which
// compares everything but keys).
DesiredTunnel compile_tunnel(const model::Tunnel& tunnel, std::uint32_t reqid, const model::KeyRing* keys);

// The policy priority when the definition gives none: narrower selectors
// first (a lower number wins), by prefix lengths, then protocol, then ports.
std::uint32_t automatic_priority(const netlink::Selector& selector);

} // namespace xfrmctl::plan
