#include "attributes.hpp"

namespace xfrmctl::netlink {

namespace {

int store_attribute(const nlattr* attr, void* data)
{
    auto* table = static_cast<std::array<const nlattr*, kKnownAttributes + 1>*>(data);
    auto type = mnl_attr_get_type(attr);
    if (type <= kKnownAttributes) // newer kernels may send types we do not know
        (*table)[type] = attr;
    return MNL_CB_OK;
}

} // namespace

Status AttributeTable::parse(const nlmsghdr* nlh, std::size_t header_size)
{
    if (mnl_attr_parse(nlh, static_cast<unsigned>(header_size), store_attribute, &table_) < 0)
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
