#include "pipeline/progress.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <string>

namespace anec::pipeline {
namespace {

// Collects what a Progress prints to a non-terminal stream.
class Captured {
 public:
  Captured() : f_(open_memstream(&text_, &size_)) {}
  ~Captured() {
    if (f_ != nullptr) std::fclose(f_);
    std::free(text_);
  }
  std::FILE* file() { return f_; }
  std::string Text() {
    std::fflush(f_);
    return std::string(text_, size_);
  }

 private:
  char* text_ = nullptr;
  size_t size_ = 0;
  std::FILE* f_;
};

int Lines(const std::string& s) {
  int n = 0;
  for (char c : s) n += c == '\n';
  return n;
}

TEST(ProgressTest, FormatsCounts) {
  EXPECT_EQ(FormatCount(950), "950");
  EXPECT_EQ(FormatCount(12345), "12.3K");
  EXPECT_EQ(FormatCount(4.56e6), "4.56M");
  EXPECT_EQ(FormatCount(1.2e9), "1.20G");
}

TEST(ProgressTest, WeightsMoveInsideOneItemAndStayQuietInLogs) {
  Captured out;
  {
    Progress p(out.file(), "[3/8] FFN chunk (infer)", 134'000'000, ProgressUnit::kWeights);
    // One chunk of many matrices: the count moves with every matrix, not once per chunk.
    for (int i = 0; i < 210; ++i) p.Advance(134'000'000 / 210);
    p.Done();
  }
  const std::string text = out.Text();
  EXPECT_NE(text.find("/134.00M weights"), std::string::npos) << text;
  EXPECT_NE(text.find("/s"), std::string::npos) << text;  // the rate
  EXPECT_NE(text.find("done in"), std::string::npos) << text;
  // Not a terminal: quiet, a line per 10% at most (plus the first and the final line).
  EXPECT_GE(Lines(text), 5) << text;
  EXPECT_LE(Lines(text), 12) << text;
}

TEST(ProgressTest, ItemsKeepTheirPlainCount) {
  Captured out;
  {
    Progress p(out.file(), "[5/8] combine", 2);
    p.Advance();
    p.Done();
  }
  const std::string text = out.Text();
  EXPECT_NE(text.find("] 1/2 "), std::string::npos) << text;
  EXPECT_NE(text.find("] 2/2 done in"), std::string::npos) << text;
  EXPECT_EQ(text.find("weights"), std::string::npos) << text;
}

}  // namespace
}  // namespace anec::pipeline
