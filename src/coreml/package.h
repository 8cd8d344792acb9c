// .mlpackage writer and reader. Layout: docs/PACKAGE_FORMAT.md.
//
//   X.mlpackage/Manifest.json
//   X.mlpackage/Data/com.apple.CoreML/model.mlmodel         (Model protobuf)
//   X.mlpackage/Data/com.apple.CoreML/weights/weight.bin    (blob file)
//
// PackageWriter is a builder: weights() receives blobs while the program is built, then
// Finish(model) writes the protobuf and Manifest.json into a temporary folder and renames it to
// the final path; Abandon() (or destruction before Finish) removes the temporary folder.
#pragma once

#include <memory>
#include <string>

#include "base/file_system.h"
#include "base/status.h"
#include "coreml/blob_file.h"
#include "coreml/proto/model.pb.h"

namespace anec::coreml {

// What BlobFileValue.fileName holds for the package's weights.
inline constexpr const char* kWeightFileName = "@model_path/weights/weight.bin";

class PackageWriter {
 public:
  // REQUIRES: `fs` outlives the writer. `final_path` ends in ".mlpackage"; an existing package
  // there is replaced only when Finish() succeeds.
  static Result<std::unique_ptr<PackageWriter>> Create(FileSystem* fs, std::string final_path);
  // The same, but the package's weight.bin will be the existing blob file `weight_file` (hard
  // linked at Finish where possible, else copied): for a model whose constants already live
  // there at known offsets. weights() is then null.
  static Result<std::unique_ptr<PackageWriter>> CreateWithWeightFile(FileSystem* fs,
                                                                     std::string final_path,
                                                                     std::string weight_file);
  ~PackageWriter();

  BlobWriter* weights() { return weights_.get(); }

  // Writes model.mlmodel and Manifest.json (fresh UUIDs), closes weight.bin, renames into place.
  Status Finish(const CoreML::Specification::Model& model);
  void Abandon();

 private:
  PackageWriter() = default;
  FileSystem* fs_ = nullptr;
  static Result<std::unique_ptr<PackageWriter>> Start(FileSystem* fs, std::string final_path,
                                                      std::string adopted_weights);
  std::string final_path_, temp_path_;
  std::string adopted_weights_;  // CreateWithWeightFile's file, else empty
  std::unique_ptr<BlobWriter> weights_;
  bool done_ = false;
};

// A package opened for reading. Validates Manifest.json (all keys present, paths exist), parses
// the protobuf and opens weight.bin (if present).
class Package {
 public:
  static Result<Package> Open(FileSystem* fs, const std::string& path);

  const std::string& path() const { return path_; }
  // The root model item's file (normally Data/com.apple.CoreML/model.mlmodel).
  const std::string& model_path() const { return model_path_; }
  const CoreML::Specification::Model& model() const { return *model_; }
  // Null when the package has no weight file.
  const BlobReader* weights() const { return weights_ ? weights_.get() : nullptr; }
  uint64_t weight_file_bytes() const { return weight_bytes_; }
  uint64_t total_bytes() const { return total_bytes_; }

 private:
  std::string path_, model_path_;
  std::shared_ptr<CoreML::Specification::Model> model_;
  std::shared_ptr<BlobReader> weights_;
  uint64_t weight_bytes_ = 0, total_bytes_ = 0;
};

}  // namespace anec::coreml
