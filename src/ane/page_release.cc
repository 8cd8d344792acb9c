#include "ane/page_release.h"

#include <sys/mman.h>
#include <unistd.h>

namespace anec::ane {

void ReleasePages(std::span<const uint8_t> bytes) {
#ifdef MADV_PAGEOUT
  static const uintptr_t page = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
  const uintptr_t begin = reinterpret_cast<uintptr_t>(bytes.data());
  const uintptr_t end = begin + bytes.size();
  const uintptr_t first = (begin + page - 1) & ~(page - 1);  // whole pages inside the range only
  const uintptr_t last = end & ~(page - 1);
  if (last > first) {
    (void)madvise(reinterpret_cast<void*>(first), last - first, MADV_PAGEOUT);
  }
#else
  (void)bytes;
#endif
}

}  // namespace anec::ane
