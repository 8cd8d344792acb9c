// How ANEMLL's runtimes find the packages of a converted folder, as facts read in their sources
// (ANEMLL 0.3.4: github Anemll/Anemll; 0.3.5: its 0.3.5 release), re-stated in our own code.
// Each rule in anemll_paths.cc cites the file and function it comes from.
//
// A folder is seen as a listing of top-level names, so the same rules can be asked about the
// folder as written on Linux (only `.mlpackage` folders) and about the folder a Mac holds after
// `sh compile_on_mac.sh` (the `.mlmodelc` names that script writes, beside the packages).
#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace anec::contract {

// The runtimes emulated here.
enum class AnemllRuntime {
  kChatPy034,      // tests/chat.py of 0.3.4
  kChatFullPy034,  // tests/chat_full.py of 0.3.4
  kSwiftCli034,    // anemll-swift-cli (AnemllCore) of 0.3.4
  kChatPy035,
  kChatFullPy035,
  kSwiftCli035,
};
std::string RuntimeName(AnemllRuntime r);  // "chat.py 0.3.4"
std::vector<AnemllRuntime> AllRuntimes();
bool IsSwift(AnemllRuntime r);
bool Is035(AnemllRuntime r);

// meta.yaml as the runtimes read it: model_info.parameters kept as raw YAML scalars (and flow
// lists), so each runtime's own typing can be applied (Python formats the value with str();
// Swift takes `params[key] as? Int`, which is nil for `none`).
struct MetaParams {
  std::map<std::string, std::string> scalars;
  std::map<std::string, std::vector<std::string>> lists;
  std::string version;     // model_info.version
  std::string model_type;  // model_info.model_type ("" when absent)
  std::string architecture;

  std::optional<std::string> Get(const std::string& key) const;
  // A scalar that is a plain decimal integer (what Yams / PyYAML load as an int).
  std::optional<int64_t> Int(const std::string& key) const;
  // true/false (YAML booleans); nullopt when absent or not a boolean.
  std::optional<bool> Bool(const std::string& key) const;
  std::optional<std::vector<int64_t>> IntList(const std::string& key) const;
};
Result<MetaParams> ParseMeta(std::string_view yaml_text, const std::string& path);

// Top-level entry names of a folder.
class FolderListing {
 public:
  static Result<FolderListing> OfDir(const std::string& dir);
  void Add(const std::string& name) { names_.insert(name); }
  bool Exists(const std::string& name) const { return names_.count(name) > 0; }
  // Names matching `pattern`, where '*' matches any run of characters, sorted by code point
  // (Python's sorted(glob.glob(...)) inside one folder).
  std::vector<std::string> Glob(const std::string& pattern) const;
  const std::set<std::string>& names() const { return names_; }

 private:
  std::set<std::string> names_;
};

// One line of compile_on_mac.sh: `xcrun coremlcompiler compile 'X.mlpackage' .` writes
// ./X.mlmodelc (coremlcompiler names its output after the input, in the output folder).
struct CompileStep {
  std::string package;   // X.mlpackage
  std::string compiled;  // X.mlmodelc
};
// Parses the script; errors name the line. Only the `.` output folder is accepted (the script
// cds to its own folder first, so that is the model folder).
Result<std::vector<CompileStep>> ParseCompileScript(std::string_view text);
// `listing` plus the names the script writes (what a Mac holds after running it).
FolderListing AfterCompile(const FolderListing& listing, const std::vector<CompileStep>& steps);

// The names a runtime loads, in the folder.
struct ResolvedFiles {
  std::string embeddings;
  std::string lm_head;
  std::vector<std::string> chunks;  // chunk 1..N
};
// Applies `runtime`'s path rules to meta.yaml and the listing. The error says which rule failed
// and what the runtime looked for (as its own error would).
Result<ResolvedFiles> ResolveFiles(AnemllRuntime runtime, const MetaParams& meta,
                                   const FolderListing& listing);

// "X.mlmodelc" -> "X.mlpackage" (the package compile_on_mac.sh compiled it from); other names
// unchanged.
std::string SourcePackage(const std::string& name);
bool EndsWith(std::string_view s, std::string_view suffix);

}  // namespace anec::contract
