// Issue 16 item 3: a conversion whose writes fail with a full disk at any point ends with an error
// naming the path and the space needed, leaves no partial file at a final path, and
// `--restart` completes it once space is freed, byte-identical to a clean run.
#include <gtest/gtest.h>

#include <cstdio>
#include <regex>
#include <set>
#include <string>

#include "pipeline/converter_test_util.h"
#include "pipeline/disk_full_file_system.h"

namespace anec::pipeline {
namespace {

// Under AddressSanitizer a conversion runs about 20x slower, and failing all of a conversion's
// writes in turn took most of the sanitizer run's 230 s. There the test fails every fourth write,
// the last four, and the first write of each kind (create, write, close, new folder, rename,
// link) that the others do not reach, and checks that every kind then failed at least once; the
// Release run fails every write.
#if defined(__SANITIZE_ADDRESS__)
constexpr uint64_t kWriteStride = 4;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
constexpr uint64_t kWriteStride = 4;
#else
constexpr uint64_t kWriteStride = 1;
#endif
#else
constexpr uint64_t kWriteStride = 1;
#endif

ConvertHooks Quiet() {
  ConvertHooks h;
  h.log = nullptr;
  return h;
}

TEST(DiskFullTest, EveryFailedWriteExplainsItselfAndRestartCompletes) {
  TinyModel tm = MakeTinyModel(3, 300, false);
  MemoryFileSystem clean_fs;
  WriteModelFolder(&clean_fs, "/m");
  DiskFullFileSystem counter(&clean_fs, 0);
  ASSERT_TRUE(Convert(&counter, tm.input(), TinyOptions("/m", "/out", 2), Quiet()).ok());
  const auto clean = Snapshot(&clean_fs, "/out");
  const uint64_t total = counter.writes();
  ASSERT_GT(total, 20u);
  std::printf("DISKFULL clean conversion: %llu write operations; failing each in turn\n",
              static_cast<unsigned long long>(total));

  const std::vector<std::string> kinds = counter.write_kinds();
  ASSERT_EQ(kinds.size(), total);
  std::set<std::string> failed_kinds;
  for (uint64_t n = 1; n <= total; ++n) {
    const bool new_kind = !failed_kinds.count(kinds[n - 1]);
    if (n % kWriteStride != 1 % kWriteStride && n + 4 <= total && !new_kind) continue;
    SCOPED_TRACE("write " + std::to_string(n) + " of " + std::to_string(total) + " fails");
    MemoryFileSystem base;
    WriteModelFolder(&base, "/m");
    DiskFullFileSystem fs(&base, n);
    auto r = Convert(&fs, tm.input(), TinyOptions("/m", "/out", 2), Quiet());
    failed_kinds.insert(fs.first_failed_kind());
    ASSERT_FALSE(r.ok());
    ASSERT_EQ(r.status().code(), StatusCode::kNoSpace) << r.status().ToString();
    const std::string& msg = r.status().message();
    EXPECT_NE(msg.find("No space left on device"), std::string::npos) << msg;
    EXPECT_NE(msg.find("/out/"), std::string::npos) << "names the path: " << msg;

    // Every final file is either complete (a clean run's bytes) or absent; never partial.
    for (const auto& [name, bytes] : Snapshot(&base, "/out")) {
      if (bytes == "<missing>") continue;  // a package folder whose weights never landed
      auto it = clean.find(name);
      ASSERT_NE(it, clean.end()) << "unexpected final file " << name;
      EXPECT_EQ(bytes, it->second) << "partial final file " << name;
    }
    std::smatch m;
    int restart = 1;
    // Failures before the step loop (the lock, the work folder) carry no restart step: a plain
    // rerun is the way on.
    if (std::regex_search(msg, m, std::regex("--restart ([0-9])"))) {
      restart = std::stoi(m[1]);
      if (n == total / 2)
        std::printf("DISKFULL e.g. write %llu: %s\n", static_cast<unsigned long long>(n),
                    msg.c_str());
      EXPECT_NE(msg.find("needs about"), std::string::npos) << msg;
    }

    fs.Refill();
    ConvertOptions o = TinyOptions("/m", "/out", 2);
    o.restart = restart;
    auto again = Convert(&fs, tm.input(), o, Quiet());
    ASSERT_TRUE(again.ok()) << again.status().ToString() << "\nafter: " << msg;
    EXPECT_EQ(Snapshot(&base, "/out"), clean);
  }
  EXPECT_EQ(failed_kinds, std::set<std::string>(kinds.begin(), kinds.end()))
      << "a kind of write never failed";
}

}  // namespace
}  // namespace anec::pipeline
