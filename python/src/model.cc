#include "model.h"

#include <fmt/format.h>

#include <chrono>

#include "base/file_system.h"
#include "bindings.h"
#include "runtime/llm_model.h"
#include "runtime/model_folder.h"
#include "text/stream_decoder.h"

namespace anec::python {

std::unique_ptr<Model> Model::Open(const std::string& path) {
  nb::gil_scoped_release release;
  return std::make_unique<Model>(path, Check(cli::OpenConvertedModel(path, "--model-path")));
}

Model::Model(std::string path, cli::ConvertedModel converted)
    : path_(std::move(path)),
      converted_(std::move(converted)),
      stop_ids_(runtime::StopTokenIds(converted_.tokenizer)) {}

Status Model::LoadPackages() {
  if (!packages_.empty()) return Status::Ok();
  FileSystem* fs = RealFileSystem();
  const runtime::ModelFolderConfig& config = converted_.model->config();
  ANEC_ASSIGN_OR_RETURN(runtime::ModelFiles files, runtime::LocateModelFiles(fs, path_, config));
  std::vector<std::pair<std::string, std::string>> named = {{"embeddings", files.embeddings}};
  for (size_t k = 0; k < files.chunks.size(); ++k) {
    named.emplace_back(fmt::format("ffn{}", k + 1), files.chunks[k]);
  }
  named.emplace_back("lm_head", files.lm_head);
  for (const auto& [base, file] : named) {
    ANEC_ASSIGN_OR_RETURN(auto program, runtime::LoadPackageProgram(fs, file));
    packages_.push_back(std::make_unique<Package>(std::move(program)));
    Package* p = packages_.back().get();
    std::vector<std::string> fns = p->functions();
    for (const std::string& fn : fns) {
      std::string name = fns.size() == 1 ? base : base + "." + fn;
      functions_[name] = {p, fn};
      function_order_.push_back(name);
    }
  }
  return Status::Ok();
}

Result<std::vector<std::string>> Model::Functions() {
  std::lock_guard<std::mutex> lock(packages_mu_);
  ANEC_RETURN_IF_ERROR(LoadPackages());
  return function_order_;
}

Result<std::pair<Package*, std::string>> Model::Resolve(const std::string& function) {
  std::lock_guard<std::mutex> lock(packages_mu_);
  ANEC_RETURN_IF_ERROR(LoadPackages());
  auto it = functions_.find(function);
  if (it == functions_.end()) {
    return NotFound("{}: no function '{}'; the folder has {}", path_, function,
                    fmt::join(function_order_, ", "));
  }
  return it->second;
}

Result<std::unique_ptr<State>> Model::MakeState() {
  std::lock_guard<std::mutex> lock(packages_mu_);
  ANEC_RETURN_IF_ERROR(LoadPackages());
  auto state = std::make_unique<State>();
  for (const auto& [name, target] : functions_) {
    ANEC_RETURN_IF_ERROR(
        runtime::PrepareStates(*target.first->program().Find(target.second), &state->store));
  }
  return state;
}

GenerationStream::GenerationStream(Model* model, std::vector<int32_t> prompt,
                                   runtime::GenerationOptions options)
    : worker_([this, model, prompt = std::move(prompt), options]() mutable {
        Run(model, std::move(prompt), options);
      }) {}

GenerationStream::~GenerationStream() { Close(); }

void GenerationStream::Close() {
  stop_ = true;
  if (worker_.joinable()) worker_.join();
}

void GenerationStream::Run(Model* model, std::vector<int32_t> prompt,
                           runtime::GenerationOptions options) {
  auto push = [this](std::string piece) {
    if (piece.empty()) return;
    std::lock_guard<std::mutex> lock(mu_);
    pieces_.push_back(std::move(piece));
    cv_.notify_all();
  };
  Result<runtime::GenerationStats> stats = runtime::GenerationStats{};
  {
    std::lock_guard<std::mutex> model_lock(model->mu());
    // As ChatSession::Reply: special tokens are not shown, pieces end on whole characters.
    text::StreamDecoder decoder(&model->tokenizer(), /*skip_special=*/true);
    stats = runtime::Generate(&model->llm(), std::move(prompt), options, model->stop_ids(),
                              [&](int32_t id) {
                                if (stop_) return false;
                                push(decoder.Put(id));
                                return !stop_.load();
                              });
    if (stats.ok() && !stop_) push(decoder.Flush());
  }
  std::lock_guard<std::mutex> lock(mu_);
  if (stats.ok()) {
    stats_ = *stats;
  } else {
    status_ = stats.status();
  }
  done_ = true;
  cv_.notify_all();
}

bool GenerationStream::Finished() {
  std::lock_guard<std::mutex> lock(mu_);
  return done_ && pieces_.empty();
}

std::optional<std::string> GenerationStream::Next(int timeout_ms, bool* finished) {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait_for(lock, std::chrono::milliseconds(timeout_ms),
               [this] { return !pieces_.empty() || done_; });
  *finished = pieces_.empty() && done_;
  if (pieces_.empty()) return std::nullopt;
  std::string piece = std::move(pieces_.front());
  pieces_.pop_front();
  return piece;
}

}  // namespace anec::python
