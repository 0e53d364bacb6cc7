// Whether a network device can take ESP SAs for crypto offload, asked of
// the device itself before any SA names it.
#pragma once

#include "xfrmctl/util/result.hpp"

#include <optional>
#include <string>

namespace xfrmctl::netlink {

struct OffloadDevice {
    int ifindex = 0;
    // The device's "esp-hw-offload" feature (NETIF_F_HW_ESP) is on. Without
    // it Linux 6.1 installs an SA asked to be offloaded in software and says
    // nothing (xfrm_dev_state_add() in net/xfrm/xfrm_device.c returns 0 when
    // the device has no xfrmdev_ops), so it is checked first.
    bool esp_hw_offload = false;
};

// nullopt when no device of that name exists in the caller's network
// namespace; an error when its features cannot be read.
Result<std::optional<OffloadDevice>> offload_device(const std::string& name);

} // namespace xfrmctl::netlink
