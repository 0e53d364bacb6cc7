#include "xfrmctl/netlink/message.hpp"

#include <cstring>

namespace xfrmctl::netlink {

RequestBuilder::RequestBuilder(std::uint16_t type, std::uint16_t flags)
{
    std::memset(scratch_, 0, sizeof scratch_);
    nlh_ = mnl_nlmsg_put_header(scratch_);
    nlh_->nlmsg_type = type;
    nlh_->nlmsg_flags = static_cast<std::uint16_t>(NLM_F_REQUEST | flags);
}

RequestBuilder::~RequestBuilder() { wipe(scratch_, sizeof scratch_); }

void RequestBuilder::put(std::uint16_t attr, const void* data, std::size_t size)
{
    mnl_attr_put(nlh_, attr, size, data);
}

void* RequestBuilder::reserve(std::uint16_t attr, std::size_t size)
{
    auto* nla = static_cast<nlattr*>(mnl_nlmsg_get_payload_tail(nlh_));
    nla->nla_type = attr;
    nla->nla_len = static_cast<std::uint16_t>(MNL_ATTR_HDRLEN + size);
    nlh_->nlmsg_len += MNL_ALIGN(nla->nla_len);
    return mnl_attr_get_payload(nla);
}

Request RequestBuilder::finish()
{
    Request r;
    r.bytes_ = Secret::copy_of({scratch_, nlh_->nlmsg_len});
    return r;
}

} // namespace xfrmctl::netlink
