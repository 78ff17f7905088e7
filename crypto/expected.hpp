// Expected<T, E>: a value or a typed error, and a result that cannot be
// ignored ([[nodiscard]]). C++20 has no std::expected; this is the minimum
// Focal needs. Every verify/open/parse in Focal returns one of these.
#pragma once

#include <cassert>
#include <utility>
#include <variant>

namespace focal {

template <class E>
struct Unexpected {
  E error;
};
template <class E>
Unexpected<E> unexpected(E e) { return Unexpected<E>{std::move(e)}; }

template <class T, class E>
class [[nodiscard]] Expected {
 public:
  Expected(T v) : v_(std::in_place_index<0>, std::move(v)) {}
  Expected(Unexpected<E> e) : v_(std::in_place_index<1>, std::move(e.error)) {}

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  T& value() & { assert(ok()); return std::get<0>(v_); }
  const T& value() const& { assert(ok()); return std::get<0>(v_); }
  T&& value() && { assert(ok()); return std::get<0>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const E& error() const { assert(!ok()); return std::get<1>(v_); }

 private:
  std::variant<T, E> v_;
};

// For operations that return nothing on success.
struct Ok {};

}  // namespace focal
