// SHA-256 of a file, to verify Hub LFS downloads (their ETag is the sha256 of the content).
// Uses OpenSSL's libcrypto (hardware-accelerated; libcurl exposes no hash API).
#pragma once

#include <string>
#include <string_view>

#include "base/status.h"

namespace anec::io {

// Lower-case hex digest of `data`.
std::string Sha256Hex(std::string_view data);

// Lower-case hex digest of the file at `path`, read in chunks (files may be many GB).
Result<std::string> Sha256FileHex(const std::string& path);

}  // namespace anec::io
