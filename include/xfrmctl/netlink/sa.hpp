// XFRM states (SAs): the model, and building and parsing their messages.
#pragma once

#include "xfrmctl/netlink/message.hpp"
#include "xfrmctl/netlink/xfrm.hpp"
#include "xfrmctl/util/boxed.hpp"
#include "xfrmctl/util/result.hpp"
#include "xfrmctl/util/secret.hpp"

#include <array>
#include <optional>
#include <string>
#include <vector>

namespace xfrmctl::netlink {

using KeyFingerprint = std::array<std::uint8_t, 32>; // SHA-256 of a key
KeyFingerprint fingerprint_of(std::span<const std::uint8_t> key);

// What makes two SAs the same SA for the kernel: __xfrm_state_lookup()
// (net/xfrm/xfrm_state.c) matches on daddr, spi, proto and family, and on
// the mark (value & mask). A second add with the same identity is EEXIST.
struct SaId {
    IpAddress daddr;
    std::uint32_t spi = 0; // host order
    std::uint8_t proto = 0;
    Mark mark;

    std::string key() const; // a canonical text form, stable across runs
    auto operator<=>(const SaId&) const = default;
};

// One transform. A desired SA carries its key; an SA read from the kernel
// carries only the key's fingerprint (the key itself is wiped at once).
struct SaAlgorithm {
    std::string name; // the kernel's crypto name, e.g. "rfc4106(gcm(aes))"
    std::uint32_t key_bits = 0;
    std::uint32_t icv_bits = 0; // AEAD ICV or truncated MAC length; 0 for a cipher
    Secret key;
    KeyFingerprint fingerprint{};

    SaAlgorithm clone() const;
    bool same_as(const SaAlgorithm& other, bool compare_keys = true) const;
};

struct Encapsulation { // ESP in UDP (struct xfrm_encap_tmpl)
    std::uint16_t type = 0;
    std::uint16_t sport = 0, dport = 0;
    auto operator<=>(const Encapsulation&) const = default;
};

// NIC offload of an SA (struct xfrm_user_offload in XFRMA_OFFLOAD_DEV):
// the device's ifindex and XFRM_OFFLOAD_INBOUND / XFRM_OFFLOAD_PACKET.
// XFRM_OFFLOAD_IPV6 is never sent: the kernel ignores it and never reports
// it (the comment above it in include/uapi/linux/xfrm.h, and
// copy_user_offload() in net/xfrm/xfrm_user.c).
struct Offload {
    int ifindex = 0;
    std::uint8_t flags = 0;
    bool packet() const { return flags & XFRM_OFFLOAD_PACKET; }
    bool inbound() const { return flags & XFRM_OFFLOAD_INBOUND; }
    auto operator<=>(const Offload&) const = default;
};
const char* offload_mode_name(const Offload& o); // "crypto" or "packet"

// What the kernel counts for an SA; read only, never compared.
struct SaCounters {
    std::uint64_t bytes = 0, packets = 0;
    std::uint64_t add_time = 0, use_time = 0, last_used = 0;
    std::uint32_t replay_errors = 0, integrity_errors = 0, replay_window_errors = 0;
    std::uint32_t seq = 0, oseq = 0;
};

struct SaEntry {
    SaId id;
    IpAddress saddr;
    Mode mode = Mode::transport;
    std::uint32_t reqid = 0;
    std::uint8_t flags = 0;
    std::uint32_t replay_window = 0;
    // On the heap: an SA has one or two of the four (the kernel's dump of
    // 10,000 tunnels holds 20,000 SAs, and so does the desired state).
    Boxed<SaAlgorithm> aead, crypt, auth;
    Boxed<SaAlgorithm> comp; // IPComp (RFC 3173): a name, no key
    Limits limits;
    std::optional<Encapsulation> encap;
    std::uint32_t if_id = 0;
    Mark output_mark;
    // XFRMA_SA_DIR (Linux 6.10): 1 inbound, 2 outbound, 0 unset. Older
    // kernels ignore the attribute and never report it.
    std::uint8_t dir = 0;
    // Asked for: the device to offload to. Read back: present only when the
    // device took the SA (the kernel reports XFRMA_OFFLOAD_DEV only with
    // x->xso.dev set, copy_to_user_state_extra()); an SA the kernel keeps
    // in software comes back without it.
    std::optional<Offload> offload;
    SaCounters counters;

    std::uint16_t family() const { return id.daddr.family; }
    bool esn() const { return flags & XFRM_STATE_ESN; }
    SaEntry clone() const;
    // Same configuration (counters aside); keys compared by fingerprint,
    // unless compare_keys is false. These three follow from one list of
    // the configuration's fields (src/netlink/fields.cpp).
    bool same_config(const SaEntry& other, bool compare_keys = true) const;
    // The names of the fields that differ ("if_id", "lifetime", "key").
    std::vector<std::string> differences(const SaEntry& other, bool compare_keys = true) const;
    std::string describe() const; // one line, every field that is set, no key material
};

Request build_sa(std::uint16_t msg_type, const SaEntry& sa); // NEWSA or UPDSA
Request build_sa_delete(const SaId& id);
Request build_sa_get(const SaId& id);
Request build_sa_dump();

// Parses an XFRM_MSG_NEWSA / UPDSA message (a dump answer, a GET reply or
// an event). Keys are fingerprinted and not kept.
Result<SaEntry> parse_sa(const nlmsghdr* nlh);
// Parses XFRM_MSG_DELSA (struct xfrm_usersa_id).
Result<SaId> parse_sa_id(const nlmsghdr* nlh);

} // namespace xfrmctl::netlink
