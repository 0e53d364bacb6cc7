// Echo requests through a tunnel and their answers: a raw ICMP (or ICMPv6)
// socket bound to the tunnel's local address and connected to its target,
// so that the kernel hands it only that target's packets.
#pragma once

#include "xfrmctl/net/address.hpp"
#include "xfrmctl/util/result.hpp"
#include "xfrmctl/util/unique_fd.hpp"

#include <cstdint>
#include <optional>
#include <vector>

namespace xfrmctl::daemon {

class Prober {
public:
    static Result<Prober> open(const IpAddress& source, const IpAddress& target, std::uint16_t id);

    Status send_echo();
    // Reads what has arrived; true if an answer to one of our echoes was among it.
    bool drain_answers();
    int fd() const { return fd_.get(); }

private:
    Prober(UniqueFd fd, std::uint16_t family, std::uint16_t id) : fd_(std::move(fd)), family_(family), id_(id) {}
    UniqueFd fd_;
    std::uint16_t family_;
    std::uint16_t id_;
    std::uint16_t seq_ = 0;
};

// A local address inside one of the prefixes, if the host has one.
std::optional<IpAddress> local_address_in(const std::vector<Prefix>& prefixes);

} // namespace xfrmctl::daemon
