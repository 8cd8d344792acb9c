#include "runtime/model_folder.h"

#include <algorithm>
#include <charconv>

#include <yaml-cpp/yaml.h>

namespace anec::runtime {
namespace {

// yaml-cpp reports errors by throwing; this file is the boundary that turns them into Status.
Result<YAML::Node> LoadYaml(std::string_view text, const std::string& path) {
  try {
    return YAML::Load(std::string(text));
  } catch (const YAML::Exception& e) {
    return InvalidArgument("{}: not valid YAML: {}", path, e.what());
  }
}

Result<std::optional<int>> ReadInt(const YAML::Node& params, const char* key, const std::string& path) {
  const YAML::Node n = params[key];
  if (!n || n.IsNull()) return std::optional<int>();
  if (!n.IsScalar()) return InvalidArgument("{}: model_info.parameters.{} must be a scalar", path, key);
  std::string s = n.Scalar();
  if (s == "none" || s == "None" || s.empty()) return std::optional<int>();
  int v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size()) {
    return InvalidArgument("{}: model_info.parameters.{} = '{}' is not an integer (or none)", path,
                           key, s);
  }
  return std::optional<int>(v);
}

std::string ReadString(const YAML::Node& node, const char* key) {
  const YAML::Node n = node[key];
  return n && n.IsScalar() ? n.Scalar() : std::string();
}

std::string LutSuffix(const std::optional<int>& lut) {
  return lut.has_value() ? fmt::format("_lut{}", *lut) : std::string();
}

}  // namespace

Result<ModelFolderConfig> ParseMetaYaml(std::string_view text, const std::string& path) {
  ANEC_ASSIGN_OR_RETURN(YAML::Node root, LoadYaml(text, path));
  // yaml-cpp throws when a scalar is subscripted (a meta.yaml that is just "hello").
  if (!root.IsMap()) {
    return InvalidArgument("{}: expected a YAML map with 'model_info'; the file is not the "
                           "meta.yaml `anec convert` writes", path);
  }
  const YAML::Node info = root["model_info"];
  if (!info || !info.IsMap()) return InvalidArgument("{}: missing the 'model_info' map", path);
  const YAML::Node params = info["parameters"];
  if (!params || !params.IsMap()) {
    return InvalidArgument("{}: missing the 'model_info.parameters' map", path);
  }
  ModelFolderConfig c;
  c.name = ReadString(info, "name");
  c.architecture = ReadString(info, "architecture");
  struct IntField { const char* key; int* out; int min; };
  for (IntField f : {IntField{"context_length", &c.context_length, 1},
                     IntField{"batch_size", &c.batch_size, 1},
                     IntField{"num_chunks", &c.num_chunks, 1},
                     IntField{"split_lm_head", &c.split_lm_head, 1}}) {
    ANEC_ASSIGN_OR_RETURN(std::optional<int> v, ReadInt(params, f.key, path));
    if (v.has_value()) {
      if (*v < f.min) {
        return InvalidArgument("{}: model_info.parameters.{} = {} must be >= {}", path, f.key, *v, f.min);
      }
      *f.out = *v;
    }
  }
  ANEC_ASSIGN_OR_RETURN(c.lut_embeddings, ReadInt(params, "lut_embeddings", path));
  ANEC_ASSIGN_OR_RETURN(c.lut_ffn, ReadInt(params, "lut_ffn", path));
  ANEC_ASSIGN_OR_RETURN(c.lut_lmhead, ReadInt(params, "lut_lmhead", path));
  std::string prefix = ReadString(params, "model_prefix");
  if (!prefix.empty()) c.model_prefix = prefix;
  c.embeddings = ReadString(params, "embeddings");
  c.lm_head = ReadString(params, "lm_head");
  c.ffn = ReadString(params, "ffn");
  return c;
}

Result<ModelFiles> LocateModelFiles(FileSystem* fs, const std::string& dir,
                                    const ModelFolderConfig& config) {
  auto find = [&](const std::string& stem) -> Result<std::string> {
    std::string pkg = JoinPath(dir, stem + ".mlpackage");
    if (fs->IsDirectory(pkg)) return pkg;
    std::string compiled = JoinPath(dir, stem + ".mlmodelc");
    if (fs->Exists(compiled)) {
      return Unsupported(
          "{}: only the compiled form {}.mlmodelc exists; compiled models run only on Apple "
          "devices. Put the .mlpackage produced by the conversion in this folder to run it here",
          dir, stem);
    }
    return NotFound("{}: model package {}.mlpackage not found (from meta.yaml model_prefix '{}' "
                    "and its lut values)", dir, stem, config.model_prefix);
  };
  ModelFiles files;
  const std::string& p = config.model_prefix;
  ANEC_ASSIGN_OR_RETURN(files.embeddings, find(p + "_embeddings" + LutSuffix(config.lut_embeddings)));
  ANEC_ASSIGN_OR_RETURN(files.lm_head, find(p + "_lm_head" + LutSuffix(config.lut_lmhead)));
  for (int k = 1; k <= config.num_chunks; ++k) {
    std::string stem = fmt::format("{}_FFN_PF{}_chunk_{:02d}of{:02d}", p, LutSuffix(config.lut_ffn), k,
                                   config.num_chunks);
    ANEC_ASSIGN_OR_RETURN(std::string chunk, find(stem));
    files.chunks.push_back(std::move(chunk));
  }
  return files;
}

}  // namespace anec::runtime
