// Key material: a fixed-size buffer that is wiped when it goes away and is
// never copied implicitly, so that no stray copy of a key outlives its use.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

namespace xfrmctl {

class Secret {
public:
    Secret() = default;
    explicit Secret(std::size_t size);
    Secret(const Secret&) = delete;
    Secret& operator=(const Secret&) = delete;
    Secret(Secret&& other) noexcept;
    Secret& operator=(Secret&& other) noexcept;
    ~Secret();

    static Secret copy_of(std::span<const std::uint8_t> bytes);

    std::uint8_t* data() { return data_; }
    const std::uint8_t* data() const { return data_; }
    std::size_t size() const { return size_; }
    bool empty() const { return size_ == 0; }
    std::span<const std::uint8_t> bytes() const { return {data_, size_}; }
    std::span<std::uint8_t> bytes() { return {data_, size_}; }

    // Constant time, so that comparing keys leaks nothing through timing.
    bool equals(const Secret& other) const;

private:
    void wipe();
    std::uint8_t* data_ = nullptr;
    std::size_t size_ = 0;
};

// Wipes memory that held key material (a netlink buffer, a file read).
void wipe(void* data, std::size_t size);

} // namespace xfrmctl
