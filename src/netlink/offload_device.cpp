// The device's feature list through the ethtool ioctl (SIOCETHTOOL), as
// `ethtool -k` reads it: the names of the feature bits (ETH_SS_FEATURES),
// then the bits (ETHTOOL_GFEATURES).
#include "xfrmctl/netlink/offload_device.hpp"

#include "xfrmctl/util/unique_fd.hpp"

#include <linux/ethtool.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <vector>

namespace xfrmctl::netlink {

namespace {

int ethtool(int fd, const std::string& device, void* command)
{
    ifreq ifr{};
    std::strncpy(ifr.ifr_name, device.c_str(), IFNAMSIZ - 1);
    ifr.ifr_data = static_cast<char*>(command);
    return ioctl(fd, SIOCETHTOOL, &ifr) == 0 ? 0 : errno;
}

// The index of a feature bit by its name ("esp-hw-offload"); -1 if the
// kernel has no such feature.
Result<int> feature_bit(int fd, const std::string& device, const char* feature, std::uint32_t& count)
{
    std::vector<std::uint8_t> info(sizeof(ethtool_sset_info) + sizeof(std::uint32_t));
    auto* sset = reinterpret_cast<ethtool_sset_info*>(info.data());
    sset->cmd = ETHTOOL_GSSET_INFO;
    sset->sset_mask = 1ULL << ETH_SS_FEATURES;
    if (int err = ethtool(fd, device, sset))
        return fail(Error::from_errno("reading the features of " + device, err));
    std::memcpy(&count, info.data() + sizeof(ethtool_sset_info), sizeof count);
    std::vector<std::uint8_t> names(sizeof(ethtool_gstrings) + std::size_t{count} * ETH_GSTRING_LEN);
    auto* strings = reinterpret_cast<ethtool_gstrings*>(names.data());
    strings->cmd = ETHTOOL_GSTRINGS;
    strings->string_set = ETH_SS_FEATURES;
    strings->len = count;
    if (int err = ethtool(fd, device, strings))
        return fail(Error::from_errno("reading the feature names of " + device, err));
    for (std::uint32_t i = 0; i < count; ++i)
        if (strncmp(reinterpret_cast<const char*>(strings->data) + std::size_t{i} * ETH_GSTRING_LEN, feature,
                    ETH_GSTRING_LEN) == 0)
            return static_cast<int>(i);
    return -1;
}

Result<bool> feature_active(int fd, const std::string& device, int bit, std::uint32_t count)
{
    std::uint32_t blocks = (count + 31) / 32;
    std::vector<std::uint8_t> buffer(sizeof(ethtool_gfeatures) + blocks * sizeof(ethtool_get_features_block));
    auto* features = reinterpret_cast<ethtool_gfeatures*>(buffer.data());
    features->cmd = ETHTOOL_GFEATURES;
    features->size = blocks;
    if (int err = ethtool(fd, device, features))
        return fail(Error::from_errno("reading the features of " + device, err));
    return (features->features[bit / 32].active >> (bit % 32)) & 1u;
}

} // namespace

Result<std::optional<OffloadDevice>> offload_device(const std::string& name)
{
    if (name.empty() || name.size() >= IFNAMSIZ)
        return std::optional<OffloadDevice>();
    unsigned index = if_nametoindex(name.c_str());
    if (index == 0)
        return std::optional<OffloadDevice>();
    UniqueFd fd(socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    if (!fd)
        return fail(Error::from_errno("cannot open a socket to ask " + name + " for its features", errno));
    std::uint32_t count = 0;
    auto bit = feature_bit(fd.get(), name, "esp-hw-offload", count);
    if (!bit)
        return fail(bit.error());
    OffloadDevice d{static_cast<int>(index), false};
    if (*bit >= 0) {
        auto active = feature_active(fd.get(), name, *bit, count);
        if (!active)
            return fail(active.error());
        d.esp_hw_offload = *active;
    }
    return std::optional(d);
}

} // namespace xfrmctl::netlink
