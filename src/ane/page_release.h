// ReleasePages: tells the kernel that a range of mapped bytes is no longer needed, so the pages
// of a memory-mapped checkpoint or package that were read once do not accumulate in the
// process's resident set (a 1B model would otherwise keep ~2.5 GB of checkpoint pages resident).
// Uses MADV_PAGEOUT, which keeps the data (file pages are re-read, anonymous pages swapped or
// kept), so it is safe on any memory; a no-op where unsupported.
#pragma once

#include <cstdint>
#include <span>

namespace anec::ane {

void ReleasePages(std::span<const uint8_t> bytes);

}  // namespace anec::ane
