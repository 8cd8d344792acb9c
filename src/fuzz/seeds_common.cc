#include <cstdio>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <set>

#include "base/file_system.h"
#include "fuzz/make_fuzz_seeds.h"

namespace anec::fuzz {

void Check(const Status& s, std::string_view what) {
  if (s.ok()) return;
  std::fprintf(stderr, "anec_fuzz_seeds: %.*s: %s\n", static_cast<int>(what.size()), what.data(),
               s.ToString().c_str());
  std::exit(1);
}

std::string ReadFixture(const Paths& p, const std::string& rel) {
  auto bytes = RealFileSystem()->ReadFile(p.fixtures + "/" + rel);
  Check(bytes.status(), rel);
  return *bytes;
}

void WriteSeed(const Paths& p, const std::string& target, const std::string& name,
               std::string_view bytes) {
  const std::string dir = p.out + "/" + target;
  Check(RealFileSystem()->MakeDirs(dir), dir);
  Check(RealFileSystem()->WriteFileAtomic(dir + "/" + name, bytes), dir + "/" + name);
  std::printf("%-16s %-40s %7zu bytes\n", target.c_str(), name.c_str(), bytes.size());
}

std::string SmallTokenizer(const Paths& p, const std::string& file, int keep_ids) {
  using nlohmann::json;
  json j = json::parse(ReadFixture(p, "text/tokenizers/" + file));
  std::set<int64_t> added;
  for (const json& t : j["added_tokens"]) added.insert(t["id"].get<int64_t>());
  json vocab = json::object();
  for (auto it = j["model"]["vocab"].begin(); it != j["model"]["vocab"].end(); ++it) {
    const int64_t id = it.value().get<int64_t>();
    if (id < keep_ids || added.count(id)) vocab[it.key()] = id;
  }
  json merges = json::array();
  for (const json& m : j["model"]["merges"]) {
    // Merges are ["a", "b"] pairs in these fixtures (the newer tokenizers format).
    const std::string a = m[0], b = m[1];
    if (vocab.contains(a) && vocab.contains(b) && vocab.contains(a + b)) merges.push_back(m);
  }
  j["model"]["vocab"] = vocab;
  j["model"]["merges"] = merges;
  return j.dump();
}

}  // namespace anec::fuzz
