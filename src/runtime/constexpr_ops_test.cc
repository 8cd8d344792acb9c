// constexpr_blockwise_shift_scale with the zero points GPTQ / AWQ checkpoints carry: uint4 codes
// with a uint4 offset, and with an fp16 offset (a zero of 16 does not fit uint4).
#include "runtime/constexpr_ops.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace anec::runtime {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

// Sub-byte tensors hold one value per byte once decoded (const_value.cc).
Tensor Small(DType dt, Shape shape, const std::vector<uint8_t>& v) {
  Tensor t = Tensor::Zeros(dt, std::move(shape));
  for (size_t i = 0; i < v.size(); ++i) t.mutable_bytes()[i] = v[i];
  return t;
}

std::map<std::string, ConstArg, std::less<>> Args(Tensor data, Tensor scale, Tensor offset) {
  std::map<std::string, ConstArg, std::less<>> args;
  args["data"].tensor = std::move(data);
  args["scale"].tensor = std::move(scale);
  args["offset"].tensor = std::move(offset);
  return args;
}

// data [2, 4] uint4, blocks of 2 along axis 1: scale / offset [2, 2].
const std::vector<uint8_t> kCodes = {0, 15, 7, 8, 3, 4, 15, 0};
const std::vector<float> kScales = {0.5f, 0.25f, 2.0f, 0.125f};

TEST(ConstexprOps, BlockwiseUint4WithUint4Offset) {
  Tensor scale = Tensor::FromFloats(DType::kFloat16, {2, 2}, kScales);
  auto out = EvaluateConstexpr("constexpr_blockwise_shift_scale",
                               Args(Small(DType::kUInt4, {2, 4}, kCodes), scale,
                                    Small(DType::kUInt4, {2, 2}, {8, 0, 15, 3})));
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_EQ(out->dtype(), DType::kFloat16);
  // Row 0: 0.5*(0-8), 0.5*(15-8), 0.25*(7-0), 0.25*(8-0); row 1: 2*(3-15), 2*(4-15),
  // 0.125*(15-3), 0.125*(0-3).
  EXPECT_THAT(out->ToFloats(), ElementsAre(-4, 3.5, 1.75, 2, -24, -22, 1.5, -0.375));
}

TEST(ConstexprOps, BlockwiseUint4WithFp16OffsetOfSixteen) {
  Tensor scale = Tensor::FromFloats(DType::kFloat16, {2, 2}, kScales);
  const std::vector<float> zeros = {16, 1, 0, 16};
  Tensor offset = Tensor::FromFloats(DType::kFloat16, {2, 2}, zeros);
  auto out = EvaluateConstexpr("constexpr_blockwise_shift_scale",
                               Args(Small(DType::kUInt4, {2, 4}, kCodes), scale, offset));
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_THAT(out->ToFloats(), ElementsAre(-8, -0.5, 1.5, 1.75, 6, 8, -0.125, -2));
}

TEST(ConstexprOps, BlockwiseIntegerOffsetMustMatchData) {
  Tensor scale = Tensor::FromFloats(DType::kFloat16, {2, 2}, kScales);
  auto out = EvaluateConstexpr("constexpr_blockwise_shift_scale",
                               Args(Small(DType::kUInt4, {2, 4}, kCodes), scale,
                                    Small(DType::kUInt8, {2, 2}, {8, 0, 15, 3})));
  ASSERT_FALSE(out.ok());
  EXPECT_THAT(out.status().message(), HasSubstr("must be fp16/fp32 or have the dtype of 'data'"));
}

}  // namespace
}  // namespace anec::runtime
