#include "parity_support.h"

#include <fmt/format.h>
#include <stdlib.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>

#include "ane/weight_source.h"
#include "base/file_system.h"
#include "io/gguf_checkpoint.h"
#include "model/gguf_model.h"
#include "model/hf_checkpoint.h"
#include "pipeline/converter.h"

namespace anec::parity {

std::string FixtureDir(const std::string& case_name) {
  const char* env = std::getenv("ANEC_SOURCE_DIR");
  const std::string root = env != nullptr && *env != '\0' ? env : ANEC_DEFAULT_SOURCE_DIR;
  return JoinPath(JoinPath(root, "tests/fixtures/parity"), case_name);
}

Result<Reference> LoadReference(const std::string& dir) {
  const std::string path = JoinPath(dir, "reference.json");
  ANEC_ASSIGN_OR_RETURN(std::string text, RealFileSystem()->ReadFile(path));
  nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) {
    return Corrupt("{}: not a JSON object; regenerate it with tools/make_parity_fixtures.py", path);
  }
  Reference ref;
  ref.case_name = j.value("case", "");
  ref.family = j.value("family", "");
  if (!j.contains("prompts") || !j["prompts"].is_array() || j["prompts"].empty()) {
    return Corrupt("{}: field prompts: expected a non-empty array", path);
  }
  size_t vocab = 0;
  for (size_t p = 0; p < j["prompts"].size(); ++p) {
    const nlohmann::json& jp = j["prompts"][p];
    ReferencePrompt rp;
    for (const char* field : {"ids", "logits", "greedy", "greedy_margins"}) {
      if (!jp.contains(field) || !jp[field].is_array()) {
        return Corrupt("{}: prompts[{}].{}: expected an array", path, p, field);
      }
    }
    for (const auto& v : jp["ids"]) rp.ids.push_back(v.get<int32_t>());
    for (const auto& v : jp["greedy"]) rp.greedy.push_back(v.get<int32_t>());
    for (const auto& v : jp["greedy_margins"]) rp.greedy_margins.push_back(v.get<double>());
    for (const auto& row : jp["logits"]) {
      std::vector<float> r;
      r.reserve(row.size());
      for (const auto& v : row) r.push_back(v.get<float>());
      if (vocab == 0) vocab = r.size();
      if (r.size() != vocab || vocab == 0) {
        return Corrupt("{}: prompts[{}].logits: row of {} values, expected {}", path, p, r.size(),
                       vocab);
      }
      rp.logits.push_back(std::move(r));
    }
    if (rp.logits.size() != rp.ids.size() || rp.ids.empty()) {
      return Corrupt("{}: prompts[{}]: {} logits rows for {} ids", path, p, rp.logits.size(),
                     rp.ids.size());
    }
    if (rp.greedy.size() != rp.greedy_margins.size()) {
      return Corrupt("{}: prompts[{}]: {} greedy tokens but {} margins", path, p, rp.greedy.size(),
                     rp.greedy_margins.size());
    }
    ref.prompts.push_back(std::move(rp));
  }
  return ref;
}

Result<std::unique_ptr<TempDir>> TempDir::Create(const std::string& label) {
  std::string name = "anec-parity-" + label + "-XXXXXX";
  std::replace(name.begin(), name.end(), '/', '_');
  std::string pattern = (std::filesystem::temp_directory_path() / name).string();
  if (mkdtemp(pattern.data()) == nullptr) {
    return IoError("cannot create a temporary folder {}: check TMPDIR", pattern);
  }
  return std::unique_ptr<TempDir>(new TempDir(pattern));
}

TempDir::~TempDir() {
  if (std::getenv("ANEC_KEEP_PARITY_OUTPUT") != nullptr) {
    std::fprintf(stderr, "kept %s\n", path_.c_str());
    return;
  }
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

std::string ParityConversion::Key(const std::string& case_name) const {
  return fmt::format("{}/c{}/e{}f{}h{}g{}/ctx{}b{}{}{}{}{}", case_name, chunks, lut.embed, lut.ffn,
                     lut.lmhead, lut.group, context, batch, per_chunk_kv ? "/kvpc" : "",
                     argmax ? "/argmax" : "", from_gguf ? "/gguf" : "",
                     residual_scale != 0 ? fmt::format("/rs{}", residual_scale) : "");
}

Status ConvertFixture(const std::string& fixture_dir, const std::string& output_dir,
                      const ParityConversion& conversion, const std::string& log_path) {
  FileSystem* fs = RealFileSystem();
  model::LoadedModel loaded;
  std::string config;
  if (conversion.from_gguf) {
    ANEC_ASSIGN_OR_RETURN(loaded, model::LoadGgufModel(fs, JoinPath(fixture_dir, "model.gguf")));
    config = static_cast<const io::GgufCheckpoint*>(loaded.source.get())->hf_config().dump(2);
  } else {
    ANEC_ASSIGN_OR_RETURN(loaded, model::LoadHfCheckpoint(fs, fixture_dir));
    ANEC_ASSIGN_OR_RETURN(config, fs->ReadFile(JoinPath(fixture_dir, "config.json")));
  }
  ane::CheckpointWeights weights(&loaded.checkpoint);
  pipeline::ConversionInput in;
  in.spec = loaded.spec;
  in.weights = &weights;
  in.config_json = config;
  pipeline::ConvertOptions o;
  o.model_dir = fixture_dir;
  o.output_dir = output_dir;
  o.context = conversion.context;
  o.batch = conversion.batch;
  o.chunks = conversion.chunks;
  o.lut = conversion.lut;
  if (conversion.per_chunk_kv) o.kv_cache = ane::KvCacheSharing::kPerChunk;
  o.argmax = conversion.argmax;
  o.residual_scale = conversion.residual_scale;
  o.skip_check = true;  // fixtures have no tokenizer files
  pipeline::ConvertHooks hooks;
  std::FILE* log = log_path.empty() ? nullptr : std::fopen(log_path.c_str(), "w");
  hooks.log = log;
  Result<pipeline::ConversionReport> report = pipeline::Convert(fs, in, o, hooks);
  if (log != nullptr) std::fclose(log);
  return report.status();
}

ConvertedModel* GetConverted(const std::string& case_name, const ParityConversion& conversion) {
  struct Entry {
    std::unique_ptr<TempDir> tmp;
    ConvertedModel converted;
  };
  // Lives until exit, so each conversion runs once per process and its folder is then removed.
  static auto* cache = new std::map<std::string, Entry>();
  static struct Cleanup {
    ~Cleanup() { cache->clear(); }
  } cleanup;
  const std::string key = conversion.Key(case_name);
  auto it = cache->find(key);
  if (it != cache->end()) return &it->second.converted;
  Entry& e = (*cache)[key];
  auto tmp = TempDir::Create(key);
  if (!tmp.ok()) {
    e.converted.status = tmp.status();
    return &e.converted;
  }
  e.tmp = std::move(*tmp);
  e.converted.dir = JoinPath(e.tmp->path(), "out");
  e.converted.status = ConvertFixture(FixtureDir(case_name), e.converted.dir, conversion,
                                      JoinPath(e.tmp->path(), "convert.log"));
  if (!e.converted.status.ok()) return &e.converted;
  auto model = runtime::LlmModel::Open(RealFileSystem(), e.converted.dir);
  if (!model.ok()) {
    e.converted.status = model.status().WithContext("runtime::LlmModel::Open");
    return &e.converted;
  }
  e.converted.model = std::move(*model);
  return &e.converted;
}

double MaxAbsDiff(std::span<const float> a, std::span<const float> b) {
  double m = 0;
  for (size_t i = 0; i < a.size() && i < b.size(); ++i) {
    const double d = std::fabs(static_cast<double>(a[i]) - static_cast<double>(b[i]));
    if (!(d <= m)) m = d;  // NaN propagates as NaN
  }
  return m;
}

double MaxAbs(std::span<const float> a) {
  double m = 0;
  for (float v : a) m = std::max(m, std::fabs(static_cast<double>(v)));
  return m;
}

int32_t Argmax(std::span<const float> logits) {
  int32_t best = 0;
  for (size_t i = 1; i < logits.size(); ++i) {
    if (logits[i] > logits[static_cast<size_t>(best)]) best = static_cast<int32_t>(i);
  }
  return best;
}

namespace {
std::vector<double> LogSoftmax(std::span<const float> x) {
  double mx = -INFINITY;
  for (float v : x) mx = std::max(mx, static_cast<double>(v));
  double sum = 0;
  for (float v : x) sum += std::exp(static_cast<double>(v) - mx);
  const double lse = mx + std::log(sum);
  std::vector<double> out(x.size());
  for (size_t i = 0; i < x.size(); ++i) out[i] = static_cast<double>(x[i]) - lse;
  return out;
}
}  // namespace

double KlDivergence(std::span<const float> p_logits, std::span<const float> q_logits) {
  const std::vector<double> lp = LogSoftmax(p_logits), lq = LogSoftmax(q_logits);
  double kl = 0;
  for (size_t i = 0; i < lp.size() && i < lq.size(); ++i) kl += std::exp(lp[i]) * (lp[i] - lq[i]);
  return kl;
}

Result<std::vector<std::vector<float>>> LogitsViaPrefill(runtime::LlmModel* model,
                                                         std::span<const int32_t> tokens) {
  std::vector<std::vector<float>> rows;
  for (size_t k = 1; k <= tokens.size(); ++k) {
    model->Reset();
    ANEC_ASSIGN_OR_RETURN(std::vector<float> logits, model->Forward(tokens.first(k)));
    rows.push_back(std::move(logits));
  }
  return rows;
}

Result<std::vector<int32_t>> GreedyDecode(runtime::LlmModel* model, std::span<const int32_t> prompt,
                                          int steps) {
  model->Reset();
  std::vector<int32_t> out;
  ANEC_ASSIGN_OR_RETURN(std::vector<float> logits, model->Forward(prompt));
  for (int s = 0; s < steps; ++s) {
    out.push_back(Argmax(logits));
    if (s + 1 == steps) break;
    ANEC_ASSIGN_OR_RETURN(logits, model->Step(out.back()));
  }
  return out;
}

}  // namespace anec::parity
