// PackageConstants: the blob-backed constants of a written package, found by const op name.
//
// Step 4 (prefill chunks) builds its weights from step 3's package this way: the exact bytes
// (fp16 or palettized indices + tables) are read back, so nothing is converted or quantized twice.
#pragma once

#include <map>
#include <string>

#include "base/status.h"
#include "coreml/package.h"
#include "mil/program_builder.h"

namespace anec::ane {

class PackageConstants {
 public:
  // Indexes every const op whose value lives in the blob file. REQUIRES: `pkg` outlives this.
  static Result<PackageConstants> Index(const coreml::Package* pkg);

  bool Has(const std::string& name) const { return entries_.count(name) > 0; }
  // The constant's type and stored bytes. Error names the package and the constant.
  Result<mil::Tensor> Get(const std::string& name) const;
  size_t size() const { return entries_.size(); }

 private:
  struct Entry {
    mil::TensorType type;
    uint64_t offset = 0;
  };
  const coreml::Package* pkg_ = nullptr;
  std::map<std::string, Entry> entries_;
};

// MILSpec DataType enum value <-> mil::DType (only types that can be blob-backed constants).
Result<mil::DType> DTypeFromMil(int mil_data_type);

}  // namespace anec::ane
