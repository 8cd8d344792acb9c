#include "coreml/package.h"

#include <nlohmann/json.hpp>
#include <random>

namespace anec::coreml {
namespace {

using nlohmann::json;

constexpr const char* kManifestName = "Manifest.json";
constexpr const char* kAuthor = "com.apple.CoreML";
constexpr const char* kModelRelPath = "com.apple.CoreML/model.mlmodel";
constexpr const char* kWeightsRelPath = "com.apple.CoreML/weights";

// A random (version 4) UUID in the uppercase 8-4-4-4-12 form Core ML's own packages use.
std::string NewUuid() {
  static thread_local std::mt19937_64 rng{std::random_device{}() ^
                                          (uint64_t{std::random_device{}()} << 32)};
  uint64_t hi = rng(), lo = rng();
  hi = (hi & ~uint64_t{0xF000}) | 0x4000;                      // version 4
  lo = (lo & ~(uint64_t{0xC} << 60)) | (uint64_t{0x8} << 60);  // RFC 4122 variant
  return fmt::format("{:08X}-{:04X}-{:04X}-{:04X}-{:012X}", hi >> 32, (hi >> 16) & 0xFFFF,
                     hi & 0xFFFF, lo >> 48, lo & 0xFFFFFFFFFFFFULL);
}

std::string ManifestJson() {
  const std::string model_id = NewUuid();
  std::string weights_id = NewUuid();
  while (weights_id == model_id) weights_id = NewUuid();
  json m;
  m["fileFormatVersion"] = "1.0.0";
  m["itemInfoEntries"][model_id] = {{"author", kAuthor},
                                    {"description", "CoreML Model Specification"},
                                    {"name", "model.mlmodel"},
                                    {"path", kModelRelPath}};
  m["itemInfoEntries"][weights_id] = {{"author", kAuthor},
                                      {"description", "CoreML Model Weights"},
                                      {"name", "weights"},
                                      {"path", kWeightsRelPath}};
  m["rootModelIdentifier"] = model_id;
  return m.dump(4, ' ', false, json::error_handler_t::replace) + "\n";
}

// Sum of file sizes below `path`; depth-limited so a symlink loop cannot recurse forever.
uint64_t TreeBytes(FileSystem* fs, const std::string& path, int depth = 0) {
  if (!fs->IsDirectory(path)) {
    Result<uint64_t> n = fs->FileSize(path);
    return n.ok() ? *n : 0;
  }
  if (depth > 16) return 0;
  Result<std::vector<std::string>> names = fs->ListDir(path);
  if (!names.ok()) return 0;
  uint64_t total = 0;
  for (const std::string& n : *names) total += TreeBytes(fs, JoinPath(path, n), depth + 1);
  return total;
}

// A manifest path must stay inside Data/: relative, no "..", no empty components.
bool IsSafeRelativePath(const std::string& p) {
  if (p.empty() || p.front() == '/') return false;
  size_t start = 0;
  while (start <= p.size()) {
    size_t end = p.find('/', start);
    if (end == std::string::npos) end = p.size();
    std::string_view part(p.data() + start, end - start);
    if (part.empty() || part == "." || part == "..") return false;
    start = end + 1;
  }
  return true;
}

// Validates Manifest.json and returns the path (relative to Data/) of the root model item.
Result<std::string> RootModelPath(FileSystem* fs, const std::string& pkg,
                                  const std::string& manifest_path) {
  ANEC_ASSIGN_OR_RETURN(std::string text, fs->ReadFile(manifest_path));
  const json m = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (m.is_discarded() || !m.is_object()) {
    return Corrupt("{}: not a JSON object; the package is damaged, re-run the conversion",
                   manifest_path);
  }
  auto version = m.find("fileFormatVersion");
  if (version == m.end() || !version->is_string()) {
    return Corrupt("{}: missing string key \"fileFormatVersion\" (expected \"1.0.0\")",
                   manifest_path);
  }
  if (version->get<std::string>().rfind("1.", 0) != 0) {
    return Unsupported("{}: fileFormatVersion \"{}\" is not a 1.x package format", manifest_path,
                       version->get<std::string>());
  }
  auto entries = m.find("itemInfoEntries");
  if (entries == m.end() || !entries->is_object() || entries->empty()) {
    return Corrupt("{}: missing or empty object \"itemInfoEntries\"", manifest_path);
  }
  for (auto it = entries->begin(); it != entries->end(); ++it) {
    if (!it.value().is_object()) {
      return Corrupt("{}: itemInfoEntries[\"{}\"] is not an object", manifest_path, it.key());
    }
    for (const char* key : {"author", "description", "name", "path"}) {
      auto f = it.value().find(key);
      if (f == it.value().end() || !f->is_string()) {
        return Corrupt(
            "{}: itemInfoEntries[\"{}\"] lacks string key \"{}\" (every entry needs "
            "author, description, name and path)",
            manifest_path, it.key(), key);
      }
    }
    const std::string path = it.value()["path"].get<std::string>();
    if (!IsSafeRelativePath(path)) {
      return Corrupt("{}: itemInfoEntries[\"{}\"].path \"{}\" is not a relative path inside Data/",
                     manifest_path, it.key(), path);
    }
    const std::string full = JoinPath(JoinPath(pkg, "Data"), path);
    if (!fs->Exists(full)) {
      return Corrupt("{}: itemInfoEntries[\"{}\"].path \"{}\" names {}, which does not exist",
                     manifest_path, it.key(), path, full);
    }
  }
  auto root = m.find("rootModelIdentifier");
  if (root == m.end() || !root->is_string()) {
    return Corrupt("{}: missing string key \"rootModelIdentifier\"", manifest_path);
  }
  const std::string root_id = root->get<std::string>();
  auto entry = entries->find(root_id);
  if (entry == entries->end()) {
    return Corrupt("{}: rootModelIdentifier \"{}\" is not a key of itemInfoEntries", manifest_path,
                   root_id);
  }
  return (*entry)["path"].get<std::string>();
}

}  // namespace

// ---- PackageWriter ----

Result<std::unique_ptr<PackageWriter>> PackageWriter::Create(FileSystem* fs,
                                                             std::string final_path) {
  return Start(fs, std::move(final_path), "");
}

Result<std::unique_ptr<PackageWriter>> PackageWriter::CreateWithWeightFile(
    FileSystem* fs, std::string final_path, std::string weight_file) {
  if (weight_file.empty()) return InvalidArgument("CreateWithWeightFile: no weight file given");
  if (!fs->Exists(weight_file)) {
    return NotFound("{}: the weight file to reuse for {} does not exist", weight_file, final_path);
  }
  return Start(fs, std::move(final_path), std::move(weight_file));
}

Result<std::unique_ptr<PackageWriter>> PackageWriter::Start(FileSystem* fs,
                                                            std::string final_path,
                                                            std::string adopted_weights) {
  while (final_path.size() > 1 && final_path.back() == '/') final_path.pop_back();
  const std::string suffix = ".mlpackage";
  if (final_path.size() <= suffix.size() ||
      final_path.compare(final_path.size() - suffix.size(), suffix.size(), suffix) != 0) {
    return InvalidArgument("package path {} must end in .mlpackage", final_path);
  }
  std::unique_ptr<PackageWriter> w(new PackageWriter());
  w->fs_ = fs;
  w->final_path_ = final_path;
  w->temp_path_ = fmt::format("{}.tmp-{:016x}", final_path,
                              std::random_device{}() ^ (uint64_t{std::random_device{}()} << 32));
  const std::string weights_dir = JoinPath(w->temp_path_, "Data/com.apple.CoreML/weights");
  Status s = fs->MakeDirs(weights_dir);
  if (!s.ok()) {
    w->Abandon();
    return s.WithContext(fmt::format("creating package {}", final_path));
  }
  w->adopted_weights_ = std::move(adopted_weights);
  if (!w->adopted_weights_.empty()) return w;
  Result<std::unique_ptr<WritableFile>> file =
      fs->OpenForWrite(JoinPath(weights_dir, "weight.bin"));
  if (!file.ok()) {
    w->Abandon();
    return file.status().WithContext(fmt::format("creating package {}", final_path));
  }
  w->weights_ = std::make_unique<BlobWriter>(std::move(file).value());
  return w;
}

PackageWriter::~PackageWriter() {
  if (!done_) Abandon();
}

Status PackageWriter::Finish(const CoreML::Specification::Model& model) {
  if (done_)
    return FailedPrecondition("PackageWriter::Finish: {} already finished or abandoned",
                              final_path_);
  auto fail = [this](Status s) {
    Abandon();
    return s.WithContext(fmt::format("writing package {}", final_path_));
  };
  Status s = weights_ ? weights_->Finish()
                     : fs_->LinkOrCopy(adopted_weights_,
                                       JoinPath(temp_path_, "Data/com.apple.CoreML/weights/weight.bin"));
  if (!s.ok()) return fail(s);
  std::string proto;
  if (!model.SerializeToString(&proto)) {
    return fail(Internal("Model protobuf could not be serialized (missing required data?)"));
  }
  const std::string data_dir = JoinPath(temp_path_, "Data/com.apple.CoreML");
  s = fs_->WriteFileAtomic(JoinPath(data_dir, "model.mlmodel"), proto);
  if (s.ok()) s = fs_->WriteFileAtomic(JoinPath(temp_path_, kManifestName), ManifestJson());
  if (s.ok()) s = fs_->Rename(temp_path_, final_path_);
  if (!s.ok()) return fail(s);
  done_ = true;
  return Status::Ok();
}

void PackageWriter::Abandon() {
  if (done_) return;
  done_ = true;
  if (weights_) weights_->Abandon();
  if (fs_ != nullptr && !temp_path_.empty()) (void)fs_->RemoveAll(temp_path_);
}

// ---- Package ----

Result<Package> Package::Open(FileSystem* fs, const std::string& path) {
  if (!fs->IsDirectory(path)) {
    return NotFound("{} is not a directory; expected an .mlpackage folder", path);
  }
  const std::string manifest = JoinPath(path, kManifestName);
  if (!fs->Exists(manifest)) {
    return Corrupt("{}: no Manifest.json; not an .mlpackage or an incomplete copy", path);
  }
  ANEC_ASSIGN_OR_RETURN(std::string root_rel, RootModelPath(fs, path, manifest));
  const std::string model_path = JoinPath(JoinPath(path, "Data"), root_rel);
  if (fs->IsDirectory(model_path)) {
    return Corrupt("{}: the root model item {} is a directory, expected the model.mlmodel file",
                   manifest, model_path);
  }
  ANEC_ASSIGN_OR_RETURN(std::string bytes, fs->ReadFile(model_path));
  auto model = std::make_shared<CoreML::Specification::Model>();
  if (!model->ParseFromString(bytes)) {
    return Corrupt(
        "{}: not a valid Core ML Model protobuf ({} bytes); the file is damaged, "
        "re-run the conversion",
        model_path, bytes.size());
  }
  if (model->specificationversion() <= 0) {
    return Corrupt(
        "{}: specificationVersion is {} ({} bytes), expected >= 1; empty or not a "
        "Core ML model",
        model_path, model->specificationversion(), bytes.size());
  }
  Package p;
  p.path_ = path;
  p.model_path_ = model_path;
  p.model_ = std::move(model);
  const std::string weight_path = JoinPath(Dirname(model_path), "weights/weight.bin");
  if (fs->Exists(weight_path)) {
    ANEC_ASSIGN_OR_RETURN(BlobReader reader, BlobReader::Open(fs, weight_path));
    p.weights_ = std::make_shared<BlobReader>(std::move(reader));
    ANEC_ASSIGN_OR_RETURN(p.weight_bytes_, fs->FileSize(weight_path));
  }
  p.total_bytes_ = TreeBytes(fs, path);
  return p;
}

}  // namespace anec::coreml
