// LUT (palettized) conversions of llama_untied against its fp16 conversion (docs/PARITY.md).
//
// Same pipeline, same runtime, `--lut N` as the CLI sets it (FFN and LM head palettized,
// embeddings fp16, 8 output channels per table). LUT8 must stay within a stated bound of the
// fp16 logits; LUT6 and LUT4 report their KL divergence from the fp16 distribution, which must
// be finite, non-zero (the weights really were palettized), ordered (fewer bits, larger error)
// and below a generous sanity bound.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "parity_support.h"

namespace anec::parity {
namespace {

const char kCase[] = "llama_untied";

// max |logit(LUT8) - logit(fp16)| relative to the prompt's largest |fp16 logit|.
constexpr double kLut8RelativeBound = 0.02;
// Mean KL(fp16 || LUTn) over all prompt positions, in nats: far above what a working palettizer
// gives (docs/PARITY.md), far below what broken weights give (random logits: ~ln(vocab) = 5.5).
constexpr double kMeanKlSanityBound = 0.5;

ParityConversion Lut(int bits) {
  ParityConversion c;
  c.lut.ffn = bits;
  c.lut.lmhead = bits;
  c.lut.group = 8;
  return c;
}

struct LutStats {
  double max_rel_err = 0;
  double max_abs_err = 0;
  double mean_kl = 0;
  double max_kl = 0;
  size_t positions = 0;
  int greedy_agree_first_prompt = 0;
};

// Compares `bits` (0 = fp16) with the fp16 conversion over every position of every prompt.
Result<LutStats> Measure(int bits) {
  ANEC_ASSIGN_OR_RETURN(Reference ref, LoadReference(FixtureDir(kCase)));
  ConvertedModel* base = GetConverted(kCase, ParityConversion{});
  ANEC_RETURN_IF_ERROR(base->status.WithContext("fp16 conversion"));
  ConvertedModel* lut = GetConverted(kCase, Lut(bits));
  ANEC_RETURN_IF_ERROR(lut->status.WithContext(fmt::format("LUT{} conversion", bits)));
  LutStats s;
  double kl_sum = 0;
  for (const ReferencePrompt& rp : ref.prompts) {
    ANEC_ASSIGN_OR_RETURN(auto want, base->model->LogitsPerPosition(rp.ids));
    ANEC_ASSIGN_OR_RETURN(auto got, lut->model->LogitsPerPosition(rp.ids));
    double scale = 0;
    for (const auto& r : want) scale = std::max(scale, MaxAbs(r));
    for (size_t i = 0; i < want.size(); ++i) {
      if (got[i].size() != want[i].size()) {
        return Internal("LUT{}: {} logits at position {}, fp16 has {}", bits, got[i].size(), i,
                        want[i].size());
      }
      const double err = MaxAbsDiff(got[i], want[i]);
      s.max_abs_err = std::max(s.max_abs_err, err);
      s.max_rel_err = std::max(s.max_rel_err, err / scale);
      const double kl = KlDivergence(want[i], got[i]);
      if (!std::isfinite(kl)) return Internal("LUT{}: KL at position {} is {}", bits, i, kl);
      kl_sum += kl;
      s.max_kl = std::max(s.max_kl, kl);
      ++s.positions;
    }
  }
  s.mean_kl = kl_sum / static_cast<double>(s.positions);
  const ReferencePrompt& longest = ref.prompts.back();
  ANEC_ASSIGN_OR_RETURN(auto g, GreedyDecode(lut->model.get(), longest.ids,
                                             static_cast<int>(longest.greedy.size())));
  while (s.greedy_agree_first_prompt < static_cast<int>(g.size()) &&
         g[s.greedy_agree_first_prompt] == longest.greedy[s.greedy_agree_first_prompt]) {
    ++s.greedy_agree_first_prompt;
  }
  std::printf("LUT%d %s: max_abs_err=%.5f max_rel_err=%.6f mean_KL=%.3g max_KL=%.3g over %zu "
              "positions; greedy agreement (29-token prompt) %d/%zu\n",
              bits, kCase, s.max_abs_err, s.max_rel_err, s.mean_kl, s.max_kl, s.positions,
              s.greedy_agree_first_prompt, longest.greedy.size());
  return s;
}

const LutStats* Stats(int bits) {
  static std::map<int, Result<LutStats>>* cache = new std::map<int, Result<LutStats>>();
  auto it = cache->find(bits);
  if (it == cache->end()) it = cache->emplace(bits, Measure(bits)).first;
  if (!it->second.ok()) {
    ADD_FAILURE() << it->second.status().ToString();
    return nullptr;
  }
  return &*it->second;
}

TEST(LutParityTest, Lut8StaysCloseToFp16) {
  const LutStats* s = Stats(8);
  ASSERT_NE(s, nullptr);
  EXPECT_LE(s->max_rel_err, kLut8RelativeBound) << "max |err| " << s->max_abs_err;
  EXPECT_GT(s->mean_kl, 0.0) << "LUT8 logits equal fp16 exactly: were the weights palettized?";
}

TEST(LutParityTest, Lut6AndLut4KlIsFiniteOrderedAndSane) {
  const LutStats* s6 = Stats(6);
  const LutStats* s4 = Stats(4);
  ASSERT_NE(s6, nullptr);
  ASSERT_NE(s4, nullptr);
  for (const auto& [bits, s] : {std::pair{6, s6}, std::pair{4, s4}}) {
    EXPECT_TRUE(std::isfinite(s->mean_kl)) << "LUT" << bits;
    EXPECT_GT(s->mean_kl, 0.0) << "LUT" << bits << " equals fp16: were the weights palettized?";
    EXPECT_LT(s->mean_kl, kMeanKlSanityBound) << "LUT" << bits;
  }
  EXPECT_GT(s4->mean_kl, s6->mean_kl) << "4-bit tables should lose more than 6-bit ones";
}

}  // namespace
}  // namespace anec::parity
