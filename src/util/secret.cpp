#include "xfrmctl/util/secret.hpp"

#include <openssl/crypto.h>

#include <algorithm>
#include <new>
#include <utility>

namespace xfrmctl {

void wipe(void* data, std::size_t size)
{
    if (data && size)
        OPENSSL_cleanse(data, size);
}

Secret::Secret(std::size_t size) : data_(new std::uint8_t[size]()), size_(size) {}

Secret::Secret(Secret&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)), size_(std::exchange(other.size_, 0))
{
}

Secret& Secret::operator=(Secret&& other) noexcept
{
    if (this != &other) {
        wipe();
        data_ = std::exchange(other.data_, nullptr);
        size_ = std::exchange(other.size_, 0);
    }
    return *this;
}

Secret::~Secret() { wipe(); }

Secret Secret::copy_of(std::span<const std::uint8_t> bytes)
{
    Secret s(bytes.size());
    std::copy(bytes.begin(), bytes.end(), s.data_);
    return s;
}

bool Secret::equals(const Secret& other) const
{
    return size_ == other.size_ && CRYPTO_memcmp(data_, other.data_, size_) == 0;
}

void Secret::wipe()
{
    xfrmctl::wipe(data_, size_);
    delete[] data_;
    data_ = nullptr;
    size_ = 0;
}

} // namespace xfrmctl
