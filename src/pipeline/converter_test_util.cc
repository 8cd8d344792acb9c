#include "pipeline/converter_test_util.h"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>

#include "ane/ane_test_util.h"
#include "coreml/proto/model.pb.h"

namespace anec::pipeline {

ConversionInput TinyModel::input() const {
  ConversionInput in;
  in.spec = spec;
  in.weights = &weights;
  in.config_json =
      "{\"model_type\": \"llama\", \"num_hidden_layers\": " + std::to_string(spec.num_layers) + "}";
  return in;
}

TinyModel MakeTinyModel(int64_t layers, int64_t vocab, bool tied, uint64_t seed) {
  TinyModel m;
  m.spec = ane::TinySpec(layers, vocab, tied);
  m.weights = ane::RandomWeights(m.spec, seed);
  return m;
}

void WriteModelFolder(FileSystem* fs, const std::string& dir) {
  (void)fs->MakeDirs(dir);
  (void)fs->WriteFileAtomic(JoinPath(dir, "config.json"), "{\"model_type\": \"llama\"}\n");
  (void)fs->WriteFileAtomic(JoinPath(dir, "tokenizer.json"), "{\"model\": {}}\n");
  (void)fs->WriteFileAtomic(JoinPath(dir, "tokenizer_config.json"), "{}\n");
}

ConvertOptions TinyOptions(const std::string& model_dir, const std::string& out, int64_t chunks) {
  ConvertOptions o;
  o.model_dir = model_dir;
  o.output_dir = out;
  o.context = 32;
  o.batch = 8;
  o.chunks = chunks;
  return o;
}

namespace {

// The model protobuf re-serialized with deterministic map order: protobuf does not fix the order
// of map entries (op inputs, functions) between serializations, so equal models can differ in
// bytes; this canonical form compares their content exactly.
std::string Canonical(const std::string& bytes) {
  CoreML::Specification::Model m;
  if (!m.ParseFromString(bytes)) return "<unparsable model>";
  std::string out;
  {
    google::protobuf::io::StringOutputStream sos(&out);
    google::protobuf::io::CodedOutputStream cos(&sos);
    cos.SetSerializationDeterministic(true);
    m.SerializeToCodedStream(&cos);
  }
  return out;
}

}  // namespace

std::map<std::string, std::string> Snapshot(FileSystem* fs, const std::string& out) {
  std::map<std::string, std::string> snap;
  auto names = fs->ListDir(out);
  if (!names.ok()) return snap;
  for (const std::string& n : *names) {
    const std::string p = JoinPath(out, n);
    if (n.size() > 10 && n.substr(n.size() - 10) == ".mlpackage") {
      const std::string data = JoinPath(p, "Data/com.apple.CoreML");
      auto model = fs->ReadFile(JoinPath(data, "model.mlmodel"));
      auto weights = fs->ReadFile(JoinPath(data, "weights/weight.bin"));
      snap[n + "/model.mlmodel"] = model.ok() ? Canonical(*model) : "<missing>";
      snap[n + "/weight.bin"] = weights.ok() ? *weights : "<missing>";
    } else if (!fs->IsDirectory(p)) {
      auto b = fs->ReadFile(p);
      snap[n] = b.ok() ? *b : "<unreadable>";
    }
  }
  return snap;
}

}  // namespace anec::pipeline
