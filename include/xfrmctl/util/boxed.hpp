// An optional value kept on the heap, with std::optional's interface.
#pragma once

#include <concepts>
#include <memory>
#include <optional>
#include <utility>

namespace xfrmctl {

// For a struct that holds one of several big alternatives, most of them
// empty: a plan change carries an SA (608 bytes) or a policy (184) or a
// link, and inline std::optionals of all of them made each change 1,288
// bytes, with tens of thousands of changes in a plan for 10,000 tunnels.
// Copying copies the value (when it can be copied).
template <typename T>
class Boxed {
public:
    Boxed() = default;
    Boxed(std::nullopt_t) {}
    Boxed(T value) : value_(std::make_unique<T>(std::move(value))) {}
    Boxed(const Boxed& other)
        requires std::copy_constructible<T>
        : value_(other.value_ ? std::make_unique<T>(*other.value_) : nullptr)
    {
    }
    Boxed(Boxed&&) noexcept = default;
    ~Boxed() = default;

    Boxed& operator=(const Boxed& other)
        requires std::copy_constructible<T>
    {
        if (this != &other)
            value_ = other.value_ ? std::make_unique<T>(*other.value_) : nullptr;
        return *this;
    }
    Boxed& operator=(Boxed&&) noexcept = default;
    Boxed& operator=(T value)
    {
        value_ = std::make_unique<T>(std::move(value));
        return *this;
    }
    Boxed& operator=(std::nullopt_t)
    {
        value_.reset();
        return *this;
    }

    template <typename... Args>
    T& emplace(Args&&... args)
    {
        value_ = std::make_unique<T>(std::forward<Args>(args)...);
        return *value_;
    }
    void reset() { value_.reset(); }

    bool has_value() const { return value_ != nullptr; }
    explicit operator bool() const { return has_value(); }
    T& operator*() { return *value_; }
    const T& operator*() const { return *value_; }
    T* operator->() { return value_.get(); }
    const T* operator->() const { return value_.get(); }

private:
    std::unique_ptr<T> value_;
};

} // namespace xfrmctl
