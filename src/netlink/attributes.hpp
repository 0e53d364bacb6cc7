// The attributes of one XFRM message, indexed by type (a private helper of
// the netlink layer).
#pragma once

#include "xfrmctl/util/result.hpp"

#include <libmnl/libmnl.h>
#include <linux/xfrm.h>

#include <array>
#include <cstring>
#include <type_traits>

namespace xfrmctl::netlink {

// Attributes newer than the headers this builds against (linux-libc-dev 6.1).
inline constexpr std::uint16_t kXfrmaSaDir = XFRMA_MTIMER_THRESH + 1; // u8, Linux 6.10
inline constexpr std::uint16_t kKnownAttributes = 40;

// A kernel struct copied out of a message or attribute: netlink keeps them
// 4-byte aligned only, and the structs with 64-bit fields (xfrm_usersa_info,
// xfrm_userpolicy_info, ...) must not be read in place (found by UBSan in the
// fuzz target). The caller has checked the size.
template <typename T>
T copy_of(const void* payload)
{
    static_assert(std::is_trivially_copyable_v<T>);
    T value;
    std::memcpy(&value, payload, sizeof value);
    return value;
}

// The attribute after attr, with left (the bytes from attr on) counted
// down; mnl_attr_ok(next, left) says whether it is whole.
inline const nlattr* next_attribute(const nlattr* attr, int& left)
{
    left -= static_cast<int>(MNL_ALIGN(attr->nla_len));
    return mnl_attr_next(attr);
}

class AttributeTable {
public:
    Status parse(const nlmsghdr* nlh, std::size_t header_size);
    // The attribute, or null when absent or shorter than min_size.
    const nlattr* get(std::uint16_t type, std::size_t min_size = 0) const;

private:
    std::array<const nlattr*, kKnownAttributes + 1> table_{};
};

} // namespace xfrmctl::netlink
