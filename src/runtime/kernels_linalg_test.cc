#include <cmath>
#include <random>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "coreml/blob_file.h"
#include "runtime/mil_test_util.h"

namespace anec::runtime {
namespace {

using namespace testing;  // NOLINT
using ::testing::ElementsAre;
using ::testing::FloatNear;
using ::testing::Pointwise;

std::vector<float> Run1(const std::string& type, std::vector<std::pair<std::string, Tensor>> in,
                        std::vector<Bind> params, Out out, ThreadPool* pool = nullptr) {
  auto r = RunOp(type, std::move(in), std::move(params), {out}, pool);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  if (!r.ok()) return {};
  EXPECT_EQ(r->at(out.name).shape(), Shape(out.dims.begin(), out.dims.end()));
  return r->at(out.name).ToFloats();
}

TEST(LinalgKernels, LinearWithBias) {
  // x [2, 3] @ W^T, W [2, 3] = [[1, 0, -1], [2, 1, 0]], b = [0.5, -1]
  Tensor x = F32({2, 3}, {1, 2, 3, 4, 5, 6});
  EXPECT_THAT(Run1("linear", {{"x", x}},
                   {{"weight", Fp16({2, 3}, {1, 0, -1, 2, 1, 0})}, {"bias", Fp16({2}, {0.5, -1})}},
                   {"o", kFp32, {2, 2}}),
              ElementsAre(-1.5, 3, -1.5, 12));
}

TEST(LinalgKernels, MatmulTransposesAndBroadcast) {
  Tensor a = F32({2, 2}, {1, 2, 3, 4});
  Tensor b = F32({2, 2}, {5, 6, 7, 8});
  EXPECT_THAT(Run1("matmul", {{"x", a}, {"y", b}}, {}, {"o", kFp32, {2, 2}}), ElementsAre(19, 22, 43, 50));
  EXPECT_THAT(Run1("matmul", {{"x", a}, {"y", b}}, {{"transpose_y", Bool(true)}}, {"o", kFp32, {2, 2}}),
              ElementsAre(17, 23, 39, 53));
  EXPECT_THAT(Run1("matmul", {{"x", a}, {"y", b}}, {{"transpose_x", Bool(true)}}, {"o", kFp32, {2, 2}}),
              ElementsAre(26, 30, 38, 44));
  // Batch [2,1,2,2] x [3,2,2] -> [2,3,2,2]; check one block against a naive product.
  std::vector<float> xv(8), yv(12);
  for (size_t i = 0; i < xv.size(); ++i) xv[i] = static_cast<float>(i) - 3;
  for (size_t i = 0; i < yv.size(); ++i) yv[i] = static_cast<float>(i % 5) * 0.5f;
  auto r = Run1("matmul", {{"x", F32({2, 1, 2, 2}, xv)}, {"y", F32({3, 2, 2}, yv)}}, {},
                {"o", kFp32, {2, 3, 2, 2}});
  ASSERT_EQ(r.size(), 24u);
  for (int bx = 0; bx < 2; ++bx) {
    for (int by = 0; by < 3; ++by) {
      for (int i = 0; i < 2; ++i) {
        for (int j = 0; j < 2; ++j) {
          float want = 0;
          for (int k = 0; k < 2; ++k) want += xv[bx * 4 + i * 2 + k] * yv[by * 4 + k * 2 + j];
          EXPECT_EQ(r[static_cast<size_t>(((bx * 3 + by) * 2 + i) * 2 + j)], want);
        }
      }
    }
  }
}

TEST(LinalgKernels, Conv1x1IsAProjectionAndGeneralConvMatchesNaive) {
  // x [1, 2, 1, 3] (C=2, W=3), weight [3, 2, 1, 1].
  Tensor x = F32({1, 2, 1, 3}, {1, 2, 3, 4, 5, 6});
  auto r = Run1("conv", {{"x", x}},
                {{"weight", Fp16({3, 2, 1, 1}, {1, 1, 1, -1, 0.5, 0})},
                 {"strides", Int32s({1, 1})}, {"pad_type", Str("valid")},
                 {"dilations", Int32s({1, 1})}, {"groups", Scalar(1)}},
                {"o", kFp32, {1, 3, 1, 3}});
  EXPECT_THAT(r, ElementsAre(5, 7, 9, -3, -3, -3, 0.5, 1, 1.5));
  // 3x3 kernel, pad same, on a 1-channel 3x3 image of ones: counts of in-bounds taps.
  std::vector<float> ones(9, 1.0f);
  auto c = Run1("conv", {{"x", F32({1, 1, 3, 3}, ones)}},
                {{"weight", Fp32({1, 1, 3, 3}, ones)}, {"pad_type", Str("same")},
                 {"strides", Int32s({1, 1})}, {"dilations", Int32s({1, 1})}, {"groups", Scalar(1)}},
                {"o", kFp32, {1, 1, 3, 3}});
  EXPECT_THAT(c, ElementsAre(4, 6, 4, 6, 9, 6, 4, 6, 4));
}

TEST(LinalgKernels, ScaledDotProductAttention) {
  // One head, L=2, S=2, E=1: q=[[1],[2]], k=[[0],[ln 3 * ... ]] chosen so scores are simple.
  float l3 = std::log(3.0f);
  Tensor q = F32({1, 2, 1}, {1, 1});
  Tensor k = F32({1, 2, 1}, {0, l3});
  Tensor v = F32({1, 2, 2}, {1, 0, 0, 1});
  // Without mask: weights [1/4, 3/4] for both rows.
  EXPECT_THAT(Run1("scaled_dot_product_attention", {{"query", q}, {"key", k}, {"value", v}}, {},
                   {"o", kFp32, {1, 2, 2}}),
              Pointwise(FloatNear(1e-6), std::vector<float>{0.25f, 0.75f, 0.25f, 0.75f}));
  // Causal bool mask: row 0 sees only key 0.
  Tensor causal = Tensor::FromInts(DType::kBool, {2, 2}, std::vector<int64_t>{1, 0, 1, 1});
  EXPECT_THAT(Run1("scaled_dot_product_attention",
                   {{"query", q}, {"key", k}, {"value", v}, {"attn_mask", causal}}, {},
                   {"o", kFp32, {1, 2, 2}}),
              Pointwise(FloatNear(1e-6), std::vector<float>{1, 0, 0.25f, 0.75f}));
  // Float mask is added: -inf hides, ln(3) on key 0 evens the odds.
  Tensor fm = F32({1, 2, 2}, {0, -INFINITY, l3, 0});
  EXPECT_THAT(Run1("scaled_dot_product_attention",
                   {{"query", q}, {"key", k}, {"value", v}, {"attn_mask", fm}}, {},
                   {"o", kFp32, {1, 2, 2}}),
              Pointwise(FloatNear(1e-6), std::vector<float>{1, 0, 0.5f, 0.5f}));
}

// constexpr_lut_to_dense (3-bit, per-group tables of 2 rows) feeding linear gives the same
// result as linear on the expanded fp16 weight, single- and multi-threaded.
TEST(LinalgKernels, LutLinearEqualsDenseLinear) {
  const int64_t rows = 6, cols = 40, group = 2;
  std::mt19937 rng(7);
  std::vector<uint8_t> idx(static_cast<size_t>(rows * cols));
  for (auto& i : idx) i = static_cast<uint8_t>(rng() % 8);
  std::vector<float> lut(static_cast<size_t>(rows / group * 8));
  for (size_t i = 0; i < lut.size(); ++i) lut[i] = RoundToHalf(std::sin(static_cast<float>(i)) * 0.7f);
  std::vector<float> dense(static_cast<size_t>(rows * cols));
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t c = 0; c < cols; ++c) {
      dense[static_cast<size_t>(r * cols + c)] = lut[static_cast<size_t>((r / group) * 8 + idx[static_cast<size_t>(r * cols + c)])];
    }
  }
  std::vector<uint8_t> packed = coreml::PackBits(idx, 3);
  std::vector<float> xv(static_cast<size_t>(3 * cols));
  for (auto& v : xv) v = static_cast<float>(static_cast<int>(rng() % 17) - 8) / 4.0f;
  Tensor x = F32({3, cols}, xv);

  // The indices as a const op's output, and inline in the constexpr op (which the loader keeps
  // packed only: program.cc, ReadsPacked).
  for (bool inline_indices : {false, true}) {
    const ms::Value indices = Raw(ms::UINT3, {rows, cols}, std::string(packed.begin(), packed.end()));
    ModelBuilder mb;
    FunctionBuilder f = mb.Function("main");
    f.Input("x", kFp32, {3, cols}).Const("lut", Fp16({rows / group, 1, 8, 1}, lut));
    if (!inline_indices) f.Const("idx", indices);
    f.Op("constexpr_lut_to_dense", "w",
         {inline_indices ? Bind("indices", indices) : Bind("indices", std::string("idx")),
          {"lut", std::string("lut")}},
         {{"w", kFp16, {rows, cols}}})
        .Op("linear", "y", {{"x", std::string("x")}, {"weight", std::string("w")}}, {{"y", kFp32, {3, rows}}})
        .Output("y");
    auto program = LoadModel(mb);
    ASSERT_TRUE(program.ok()) << program.status().ToString();
    ThreadPool pool(3);
    for (ThreadPool* p : {static_cast<ThreadPool*>(nullptr), &pool}) {
      auto out = RunFunction(*(*program)->Find("main"), {{"x", x}}, nullptr, p);
      ASSERT_TRUE(out.ok()) << out.status().ToString();
      std::vector<float> got = out->at("y").ToFloats();
      for (int64_t i = 0; i < 3; ++i) {
        for (int64_t r = 0; r < rows; ++r) {
          double want = 0;
          for (int64_t c = 0; c < cols; ++c) want += double(xv[static_cast<size_t>(i * cols + c)]) * dense[static_cast<size_t>(r * cols + c)];
          EXPECT_NEAR(got[static_cast<size_t>(i * rows + r)], want, 1e-4)
              << i << "," << r << " inline indices " << inline_indices;
        }
      }
    }
  }
}

TEST(LinalgKernels, BlobWeightsAndBlockwiseShiftScale) {
  // int8 data [2, 4] with per-(row, half-row) scales and offsets -> fp16 weight for linear.
  std::vector<int8_t> q = {1, 2, 3, 4, -1, -2, -3, -4};
  std::vector<float> scale = {0.5f, 2.0f, 1.0f, 0.25f};  // [2, 2]
  std::vector<int8_t> offset = {1, 0, 0, -4};
  MemoryFileSystem fs;
  auto file = fs.OpenForWrite("/w.bin");
  ASSERT_TRUE(file.ok());
  coreml::BlobWriter writer(std::move(*file));
  auto off = writer.Add(coreml::BlobDType::kInt8,
                        std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(q.data()), q.size()), 8);
  ASSERT_TRUE(off.ok()) << off.status().ToString();
  ASSERT_TRUE(writer.Finish().ok());
  auto bytes = fs.ReadFile("/w.bin");
  ASSERT_TRUE(bytes.ok());
  auto reader = coreml::BlobReader::FromBytes(
      std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(bytes->data()), bytes->size()), "/w.bin");
  ASSERT_TRUE(reader.ok()) << reader.status().ToString();

  ModelBuilder mb;
  std::string off_bytes(reinterpret_cast<const char*>(offset.data()), offset.size());
  mb.Function("main")
      .Input("x", kFp32, {1, 4})
      .Const("data", Blob(ms::INT8, {2, 4}, *off))
      .Const("scale", Fp16({2, 2}, scale))
      .Const("offset", Raw(ms::INT8, {2, 2}, off_bytes))
      .Op("constexpr_blockwise_shift_scale", "w",
          {{"data", std::string("data")}, {"scale", std::string("scale")}, {"offset", std::string("offset")}},
          {{"w", kFp16, {2, 4}}})
      .Op("linear", "y", {{"x", std::string("x")}, {"weight", std::string("w")}}, {{"y", kFp32, {1, 2}}})
      .Output("y")
      .Output("w");
  auto program = LoadModel(mb, &*reader);
  ASSERT_TRUE(program.ok()) << program.status().ToString();
  auto out = RunFunction(*(*program)->Find("main"), {{"x", F32({1, 4}, {1, 1, 1, 1})}}, nullptr, nullptr);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  // Row 0: 0.5*(1-1), 0.5*(2-1), 2*(3-0), 2*(4-0) = 0, 0.5, 6, 8
  // Row 1: 1*(-1-0), 1*(-2-0), 0.25*(-3+4), 0.25*(-4+4) = -1, -2, 0.25, 0
  EXPECT_THAT(out->at("w").ToFloats(), ElementsAre(0, 0.5, 6, 8, -1, -2, 0.25, 0));
  EXPECT_THAT(out->at("y").ToFloats(), ElementsAre(14.5, -2.75));

  // The same blob declared as fp16 is refused with the offset in the message.
  ModelBuilder wrong;
  wrong.Function("main").Const("data", Blob(ms::FLOAT16, {2, 4}, *off)).Output("data");
  auto bad = LoadModel(wrong, &*reader);
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.status().message(), ::testing::HasSubstr(fmt::format("offset {}", *off)));
}

}  // namespace
}  // namespace anec::runtime
