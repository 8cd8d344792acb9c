// Helpers for the pipeline tests: a tiny model, a conversion call, and output snapshots.
#pragma once

#include <map>
#include <string>

#include "ane/weight_source.h"
#include "base/file_system.h"
#include "pipeline/converter.h"

namespace anec::pipeline {

struct TinyModel {
  model::ModelSpec spec;
  ane::MemoryWeightSource weights;
  ConversionInput input() const;
};

TinyModel MakeTinyModel(int64_t layers, int64_t vocab, bool tied, uint64_t seed = 11);

// Writes config.json / tokenizer files into `dir` so the up-front checks pass.
void WriteModelFolder(FileSystem* fs, const std::string& dir);

ConvertOptions TinyOptions(const std::string& model_dir, const std::string& out, int64_t chunks);

// model.mlmodel + weight.bin bytes of every package in `out` (keyed by package name) plus the
// other top-level files; Manifest.json is left out (its UUIDs are random by design) and
// model.mlmodel is compared in canonical (deterministic map order) serialization.
std::map<std::string, std::string> Snapshot(FileSystem* fs, const std::string& out);

}  // namespace anec::pipeline
