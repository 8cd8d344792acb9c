#include "contract_support.h"

#include <fmt/format.h>

#include <cstdio>
#include <map>
#include <nlohmann/json.hpp>

#include "ane/weight_source.h"
#include "base/file_system.h"
#include "io/safetensors.h"
#include "io/safetensors_writer.h"
#include "model/hf_checkpoint.h"
#include "parity_support.h"
#include "pipeline/converter.h"

namespace anec::contract {

std::string ContractConversion::Key() const {
  return fmt::format("{}-v{}-c{}-lut{}{}{}", fixture, vocab, chunks, lut, argmax ? "-argmax" : "",
                     per_chunk_kv ? "-kvpc" : "");
}

Status WriteTruncatedFixture(const std::string& src, const std::string& dst, int64_t vocab) {
  FileSystem* fs = RealFileSystem();
  ANEC_ASSIGN_OR_RETURN(std::string config, fs->ReadFile(JoinPath(src, "config.json")));
  nlohmann::json j = nlohmann::json::parse(config, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.contains("vocab_size")) {
    return Corrupt("{}/config.json: no vocab_size", src);
  }
  const int64_t full = j["vocab_size"].get<int64_t>();
  if (vocab <= 0 || vocab > full) {
    return InvalidArgument("vocab {} must be in 1..{} (the fixture's vocab_size)", vocab, full);
  }
  j["vocab_size"] = vocab;
  ANEC_RETURN_IF_ERROR(fs->WriteFileAtomic(JoinPath(dst, "config.json"), j.dump(2)));
  ANEC_ASSIGN_OR_RETURN(auto file,
                        io::SafetensorsFile::Open(fs, JoinPath(src, "model.safetensors")));
  io::SafetensorsWriter w(fs, JoinPath(dst, "model.safetensors"));
  for (const io::TensorInfo& info : file->List()) {
    ANEC_ASSIGN_OR_RETURN(io::TensorData t, file->Read(info.name));
    io::TensorInfo out = info;
    std::span<const uint8_t> bytes = t.data;
    if (!out.shape.empty() && out.shape[0] == full) {
      // A vocabulary-major tensor: keep the first `vocab` rows.
      out.shape[0] = vocab;
      bytes = bytes.first(static_cast<size_t>(out.num_elements()) * io::TensorDTypeSize(out.dtype));
    }
    ANEC_RETURN_IF_ERROR(w.Add(out, bytes));
  }
  return w.Finish();
}

namespace {

Status Convert(const ContractConversion& c, const std::string& model_dir, const std::string& out,
               const std::string& log_path) {
  parity::ParityConversion p;
  p.chunks = c.chunks;
  p.lut.ffn = p.lut.lmhead = c.lut;
  p.lut.group = 8;
  p.context = 64;
  p.batch = 8;
  p.per_chunk_kv = c.per_chunk_kv;
  p.argmax = c.argmax;
  return parity::ConvertFixture(model_dir, out, p, log_path);
}

Status Fill(const ContractConversion& c, const std::string& tmp, ContractFolder* f) {
  FileSystem* fs = RealFileSystem();
  std::string model_dir = parity::FixtureDir(c.fixture);
  if (c.vocab > 0) {
    const std::string cut = JoinPath(tmp, "checkpoint");
    ANEC_RETURN_IF_ERROR(fs->MakeDirs(cut));
    ANEC_RETURN_IF_ERROR(WriteTruncatedFixture(model_dir, cut, c.vocab));
    model_dir = cut;
  }
  f->dir = JoinPath(tmp, "out");
  f->status = Convert(c, model_dir, f->dir, JoinPath(tmp, "convert.log"));
  if (!f->status.ok()) return Status::Ok();
  ANEC_ASSIGN_OR_RETURN(f->meta_yaml, fs->ReadFile(JoinPath(f->dir, "meta.yaml")));
  ANEC_ASSIGN_OR_RETURN(f->meta, ParseMeta(f->meta_yaml, JoinPath(f->dir, "meta.yaml")));
  ANEC_ASSIGN_OR_RETURN(f->written, FolderListing::OfDir(f->dir));
  ANEC_ASSIGN_OR_RETURN(std::string script, fs->ReadFile(JoinPath(f->dir, "compile_on_mac.sh")));
  ANEC_ASSIGN_OR_RETURN(f->compile_steps, ParseCompileScript(script));
  f->on_mac = AfterCompile(f->written, f->compile_steps);
  auto model = runtime::LlmModel::Open(fs, f->dir);
  f->model_status = model.status();
  if (model.ok()) f->model = std::move(*model);
  return Status::Ok();
}

}  // namespace

ContractFolder* GetFolder(const ContractConversion& c) {
  struct Entry {
    std::unique_ptr<parity::TempDir> tmp;
    ContractFolder folder;
  };
  static auto* cache = new std::map<std::string, Entry>();
  static struct Cleanup {
    ~Cleanup() { cache->clear(); }
  } cleanup;
  const std::string key = c.Key();
  auto it = cache->find(key);
  if (it != cache->end()) return &it->second.folder;
  Entry& e = (*cache)[key];
  auto tmp = parity::TempDir::Create("contract-" + key);
  if (!tmp.ok()) {
    e.folder.status = tmp.status();
    return &e.folder;
  }
  e.tmp = std::move(*tmp);
  Status s = Fill(c, e.tmp->path(), &e.folder);
  if (!s.ok()) e.folder.status = s;
  return &e.folder;
}

Result<std::vector<ContractPrompt>> PromptsFor(const ContractConversion& c) {
  ANEC_ASSIGN_OR_RETURN(parity::Reference ref,
                        parity::LoadReference(parity::FixtureDir(c.fixture)));
  std::vector<ContractPrompt> out;
  for (const parity::ReferencePrompt& rp : ref.prompts) {
    ContractPrompt p;
    for (int32_t id : rp.ids)
      p.ids.push_back(c.vocab > 0 ? id % static_cast<int32_t>(c.vocab) : id);
    if (c.vocab == 0) p.reference_greedy = rp.greedy;
    out.push_back(std::move(p));
  }
  return out;
}

}  // namespace anec::contract
