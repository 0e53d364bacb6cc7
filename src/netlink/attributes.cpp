#include "attributes.hpp"

namespace xfrmctl::netlink {

namespace {

void store_attribute(const nlattr* attr, std::array<const nlattr*, kKnownAttributes + 1>& table)
{
    auto type = mnl_attr_get_type(attr);
    if (type <= kKnownAttributes) // newer kernels may send types we do not know
        table[type] = attr;
}


} // namespace

// Bounded by nlmsg_len itself, not by mnl_attr_parse()'s end of the message,
// which is nlmsg_len rounded up to 4: a message whose length is not a
// multiple of 4 would let its last attribute claim up to 3 bytes past the
// end (found by the fuzz target: a read past the buffer). And bytes left
// that are no whole attribute make the message malformed, where libmnl
// stops quietly.
Status AttributeTable::parse(const nlmsghdr* nlh, std::size_t header_size)
{
    std::size_t payload = mnl_nlmsg_get_payload_len(nlh);
    std::size_t skip = MNL_ALIGN(header_size);
    if (payload <= skip)
        return {};
    const auto* attr = reinterpret_cast<const nlattr*>(static_cast<const char*>(mnl_nlmsg_get_payload(nlh)) + skip);
    int left = static_cast<int>(payload - skip);
    for (; mnl_attr_ok(attr, left); attr = next_attribute(attr, left))
        store_attribute(attr, table_);
    if (left > 0)
        return fail("malformed attributes in XFRM message");
    return {};
}

const nlattr* AttributeTable::get(std::uint16_t type, std::size_t min_size) const
{
    const nlattr* a = type <= kKnownAttributes ? table_[type] : nullptr;
    if (a && mnl_attr_get_payload_len(a) < min_size)
        return nullptr;
    return a;
}

} // namespace xfrmctl::netlink
