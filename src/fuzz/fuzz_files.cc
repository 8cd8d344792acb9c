#include "fuzz/fuzz_files.h"

#include <algorithm>

namespace anec::fuzz {
namespace {

bool IsSafeName(std::string_view name) {
  if (name.empty() || name.size() > 200 || name.front() == '/') return false;
  size_t start = 0;
  while (true) {
    size_t slash = name.find('/', start);
    std::string_view part =
        name.substr(start, slash == std::string_view::npos ? slash : slash - start);
    if (part.empty() || part == "." || part == ".." || part.find('\0') != std::string_view::npos) {
      return false;
    }
    if (slash == std::string_view::npos) return true;
    start = slash + 1;
  }
}

}  // namespace

std::vector<std::string> AddFuzzFiles(std::span<const uint8_t> input, const std::string& dir,
                                      const std::string& default_name, MemoryFileSystem* fs) {
  std::string_view text = AsText(input);
  std::vector<std::string> names;
  auto add = [&](std::string_view name, std::string_view bytes) {
    if (!IsSafeName(name)) return;
    std::string n(name);
    if (std::find(names.begin(), names.end(), n) == names.end()) {
      if (names.size() >= kMaxFuzzFiles) return;
      names.push_back(n);
    }
    fs->SetFile(dir + "/" + n, std::string(bytes));
  };
  // The marker without its leading newline may open the input.
  const std::string_view first_marker = kFileMarker.substr(1);
  std::string_view name = default_name;
  size_t body = 0;
  if (text.starts_with(first_marker)) {
    size_t eol = text.find('\n', first_marker.size());
    if (eol == std::string_view::npos) return names;
    name = text.substr(first_marker.size(), eol - first_marker.size());
    body = eol + 1;
  }
  while (true) {
    size_t next = text.find(kFileMarker, body);
    if (next == std::string_view::npos) {
      add(name, text.substr(body));
      return names;
    }
    add(name, text.substr(body, next - body));
    size_t name_start = next + kFileMarker.size();
    size_t eol = text.find('\n', name_start);
    if (eol == std::string_view::npos) return names;
    name = text.substr(name_start, eol - name_start);
    body = eol + 1;
  }
}

std::string PackFuzzFiles(const std::vector<std::pair<std::string, std::string>>& files,
                          const std::string& default_name) {
  std::string out;
  for (size_t i = 0; i < files.size(); ++i) {
    const auto& [name, bytes] = files[i];
    if (i == 0 && name == default_name) {
      out += bytes;
      continue;
    }
    out += i == 0 ? std::string(kFileMarker.substr(1)) : std::string(kFileMarker);
    out += name;
    out += '\n';
    out += bytes;
  }
  return out;
}

}  // namespace anec::fuzz
