#pragma once
// ThreadSanitizer cannot see the synchronisation inside the (uninstrumented) oneTBB library.
// These mark the two edges TBB guarantees, so that TSan still checks everything else:
// what the caller wrote before parallel_for is visible to every task (fork), and what a
// task wrote is visible to the caller after parallel_for returns (join).

#if defined(__SANITIZE_THREAD__)
#include <sanitizer/tsan_interface.h>
#endif

namespace marginsim::detail {

#if defined(__SANITIZE_THREAD__)
inline void publish(const void* token) noexcept { __tsan_release(const_cast<void*>(token)); }
inline void observe(const void* token) noexcept { __tsan_acquire(const_cast<void*>(token)); }
#else
inline void publish(const void*) noexcept {}
inline void observe(const void*) noexcept {}
#endif

}  // namespace marginsim::detail
