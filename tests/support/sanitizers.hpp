// Whether this translation unit is built with AddressSanitizer or
// ThreadSanitizer: tests that measure time or memory, or preload libraries,
// adapt their bounds (a sanitized hub is several times slower and larger).
#pragma once

namespace focal::test_support {

// g++ defines __SANITIZE_*__; clang (the ASan+UBSan build) answers
// __has_feature instead.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
inline constexpr bool Sanitized = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
inline constexpr bool Sanitized = true;
#else
inline constexpr bool Sanitized = false;
#endif
#else
inline constexpr bool Sanitized = false;
#endif

}  // namespace focal::test_support
