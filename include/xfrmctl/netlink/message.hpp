// One netlink request, built with libmnl. Its bytes may hold key material,
// so they live in a Secret and are wiped when the request goes away.
#pragma once

#include "xfrmctl/util/secret.hpp"

#include <libmnl/libmnl.h>
#include <linux/netlink.h>

#include <cstdint>
#include <span>

namespace xfrmctl::netlink {

class Request {
public:
    Request() = default;
    Request(Request&&) noexcept = default;
    Request& operator=(Request&&) noexcept = default;

    const nlmsghdr* header() const { return reinterpret_cast<const nlmsghdr*>(bytes_.data()); }
    std::span<const std::uint8_t> bytes() const { return bytes_.bytes(); }
    std::uint16_t type() const { return header()->nlmsg_type; }

private:
    friend class RequestBuilder;
    Secret bytes_;
};

// Builds a request in a scratch buffer, then moves it into a Request of the
// exact size; the scratch buffer is wiped either way.
class RequestBuilder {
public:
    RequestBuilder(std::uint16_t type, std::uint16_t flags);
    RequestBuilder(const RequestBuilder&) = delete;
    RequestBuilder& operator=(const RequestBuilder&) = delete;
    ~RequestBuilder();

    template <typename T>
    T* put_header()
    {
        return static_cast<T*>(mnl_nlmsg_put_extra_header(nlh_, sizeof(T)));
    }
    void put(std::uint16_t attr, const void* data, std::size_t size);
    template <typename T>
    void put(std::uint16_t attr, const T& value)
    {
        put(attr, &value, sizeof value);
    }
    // Reserves a zeroed attribute payload to be filled in place.
    void* reserve(std::uint16_t attr, std::size_t size);
    Request finish();

private:
    alignas(nlmsghdr) std::uint8_t scratch_[8192];
    nlmsghdr* nlh_;
};

} // namespace xfrmctl::netlink
