#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "runtime/mil_test_util.h"

namespace anec::runtime {
namespace {

using namespace testing;  // NOLINT
using ::testing::ElementsAre;
using ::testing::HasSubstr;

std::vector<float> Run1(const std::string& type, std::vector<std::pair<std::string, Tensor>> in,
                        std::vector<Bind> params, Out out) {
  auto r = RunOp(type, std::move(in), std::move(params), {out});
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  if (!r.ok()) return {};
  EXPECT_EQ(r->at(out.name).shape(), Shape(out.dims.begin(), out.dims.end()));
  return r->at(out.name).ToFloats();
}

Tensor Iota(Shape s) {
  std::vector<float> v(static_cast<size_t>(NumElements(s)));
  for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<float>(i);
  return F32(s, v);
}

TEST(ShapeKernels, ConcatAndSplit) {
  EXPECT_THAT(Run1("concat", {{"a", F32({2, 1}, {1, 2})}},
                   {{"values", std::vector<std::string>{"a", "a"}}, {"axis", Scalar(1)},
                    {"interleave", Bool(false)}},
                   {"o", kFp32, {2, 2}}),
              ElementsAre(1, 1, 2, 2));
  auto r = RunOp("split", {{"x", Iota({2, 5})}},
                 {{"split_sizes", Int32s({2, 3})}, {"axis", Scalar(1)}},
                 {{"p", kFp32, {2, 2}}, {"q", kFp32, {2, 3}}});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_THAT(r->at("p").ToFloats(), ElementsAre(0, 1, 5, 6));
  EXPECT_THAT(r->at("q").ToFloats(), ElementsAre(2, 3, 4, 7, 8, 9));
  auto e = RunOp("split", {{"x", Iota({2, 4})}}, {{"num_splits", Scalar(2)}, {"axis", Scalar(0)}},
                 {{"p", kFp32, {1, 4}}, {"q", kFp32, {1, 4}}});
  ASSERT_TRUE(e.ok());
  EXPECT_THAT(e->at("q").ToFloats(), ElementsAre(4, 5, 6, 7));
}

TEST(ShapeKernels, SliceByIndexPythonSemantics) {
  Tensor x = Iota({3, 4});
  // x[1:, ::2]
  EXPECT_THAT(Run1("slice_by_index", {{"x", x}},
                   {{"begin", Int32s({1, 0})}, {"end", Int32s({0, 0})}, {"stride", Int32s({1, 2})},
                    {"end_mask", Bools({2}, {true, true})}},
                   {"o", kFp32, {2, 2}}),
              ElementsAre(4, 6, 8, 10));
  // x[-1, 3:0:-1] with the first axis squeezed.
  EXPECT_THAT(Run1("slice_by_index", {{"x", x}},
                   {{"begin", Int32s({-1, 3})}, {"end", Int32s({0, 0})}, {"stride", Int32s({1, -1})},
                    {"squeeze_mask", Bools({2}, {true, false})}},
                   {"o", kFp32, {3}}),
              ElementsAre(11, 10, 9));
  EXPECT_THAT(Run1("slice_by_size", {{"x", x}}, {{"begin", Int32s({1, 1})}, {"size", Int32s({-1, 2})}},
                   {"o", kFp32, {2, 2}}),
              ElementsAre(5, 6, 9, 10));
}

TEST(ShapeKernels, SliceUpdateWritesTheSlice) {
  Tensor x = Iota({2, 3});
  EXPECT_THAT(Run1("slice_update", {{"x", x}, {"update", F32({2, 1}, {-1, -2})}},
                   {{"begin", Int32s({0, 1})}, {"end", Int32s({2, 2})}},
                   {"o", kFp32, {2, 3}}),
              ElementsAre(0, -1, 2, 3, -2, 5));
  // The input tensor is not modified (it is not a state).
  EXPECT_THAT(x.ToFloats(), ElementsAre(0, 1, 2, 3, 4, 5));
  auto bad = RunOp("slice_update", {{"x", x}, {"update", F32({3}, {1, 2, 3})}},
                   {{"begin", Int32s({0, 1})}, {"end", Int32s({2, 2})}}, {{"o", kFp32, {2, 3}}});
  EXPECT_FALSE(bad.ok());
}

// Transposes move the innermost axis (a step other than 1) for every element size: fp16 and
// 4-byte elements by typed loads, 1-byte ones element by element.
TEST(ShapeKernels, TransposeEveryElementSize) {
  // Element i of x [2, 3, 4] is i (bool: i % 3 == 0, a pattern a wrong walk would not keep).
  const std::pair<DType, int> types[] = {{DType::kFloat16, kFp16},
                                         {DType::kFloat32, kFp32},
                                         {DType::kInt32, kInt32},
                                         {DType::kBool, kBool}};
  for (const auto& type : types) {
    const DType dt = type.first;
    const int declared = type.second;
    auto value = [dt](int64_t i) { return dt == DType::kBool ? int64_t{i % 3 == 0} : i; };
    std::vector<int64_t> v(24);
    for (size_t i = 0; i < v.size(); ++i) v[i] = value(static_cast<int64_t>(i));
    Tensor y = Tensor::FromInts(dt, {2, 3, 4}, v);
    auto r = RunOp("transpose", {{"x", y}}, {{"perm", Int32s({0, 2, 1})}},
                   {{"o", declared, {2, 4, 3}}});
    ASSERT_TRUE(r.ok()) << DTypeName(dt) << ": " << r.status().ToString();
    std::vector<int64_t> got = r->at("o").ToInts();
    for (int64_t a = 0; a < 2; ++a) {
      for (int64_t b = 0; b < 4; ++b) {
        for (int64_t c = 0; c < 3; ++c) {
          ASSERT_EQ(got[static_cast<size_t>((a * 4 + b) * 3 + c)], value((a * 3 + c) * 4 + b))
              << DTypeName(dt) << " at " << a << "," << b << "," << c;
        }
      }
    }
  }
}

// Transposes and strided slices large enough to be split over the pool (32,768 elements and up),
// with leading unit axes before the split axis: every element where the walk puts it.
TEST(ShapeKernels, LargeTransposesAndSlicesOnThePool) {
  ThreadPool pool(2);
  const int64_t A = 9, B = 64, C = 70;  // x [1, 9, 64, 70]: 40,320 values
  std::vector<int64_t> v(static_cast<size_t>(A * B * C));
  for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<int64_t>(i % 2039);
  Tensor x = Tensor::FromInts(DType::kFloat16, {1, A, B, C}, v);
  auto r = RunOp("transpose", {{"x", x}}, {{"perm", Int32s({0, 3, 1, 2})}},
                 {{"o", kFp16, {1, C, A, B}}}, &pool);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  std::vector<int64_t> got = r->at("o").ToInts();
  for (int64_t c = 0; c < C; ++c) {
    for (int64_t a = 0; a < A; ++a) {
      for (int64_t b = 0; b < B; ++b) {
        ASSERT_EQ(got[static_cast<size_t>((c * A + a) * B + b)], v[static_cast<size_t>((a * B + b) * C + c)])
            << c << "," << a << "," << b;
      }
    }
  }
  // Columns 5..68 of every row: a slice that is not one contiguous range (36,864 values).
  auto s = RunOp("slice_by_index", {{"x", x}},
                 {{"begin", Int32s({0, 0, 0, 5})}, {"end", Int32s({1, A, B, 69})}},
                 {{"o", kFp16, {1, A, B, 64}}}, &pool);
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  got = s->at("o").ToInts();
  for (int64_t a = 0; a < A; ++a) {
    for (int64_t b = 0; b < B; ++b) {
      for (int64_t c = 0; c < 64; ++c) {
        ASSERT_EQ(got[static_cast<size_t>((a * B + b) * 64 + c)],
                  v[static_cast<size_t>((a * B + b) * C + 5 + c)]);
      }
    }
  }
}

TEST(ShapeKernels, TransposeReshapeExpandSqueeze) {
  Tensor x = Iota({2, 3});
  EXPECT_THAT(Run1("transpose", {{"x", x}}, {{"perm", Int32s({1, 0})}}, {"o", kFp32, {3, 2}}),
              ElementsAre(0, 3, 1, 4, 2, 5));
  Tensor y = Iota({2, 3, 4});
  auto t = Run1("transpose", {{"x", y}}, {{"perm", Int32s({2, 0, 1})}}, {"o", kFp32, {4, 2, 3}});
  ASSERT_EQ(t.size(), 24u);
  EXPECT_EQ(t[1], 4);   // (0,0,1) <- y(0,1,0)
  EXPECT_EQ(t[6], 1);   // (1,0,0) <- y(0,0,1)
  // iOS17 reshape: 0 copies the dim counted from the right, -1 is inferred.
  Run1("reshape", {{"x", y}}, {{"shape", Int32s({1, 0, -1, 0})}}, {"o", kFp32, {1, 2, 3, 4}});
  Run1("reshape", {{"x", Iota({2, 5})}}, {{"shape", Int32s({1, 0, -1, 0})}}, {"o", kFp32, {1, 1, 2, 5}});
  EXPECT_FALSE(RunOp("reshape", {{"x", y}}, {{"shape", Int32s({5, -1})}}, {{"o", kFp32, {5, -1}}}).ok());
  Run1("expand_dims", {{"x", x}}, {{"axes", Int32s({0, -1})}}, {"o", kFp32, {1, 2, 3, 1}});
  Run1("squeeze", {{"x", F32({1, 2, 1}, {1, 2})}}, {{"axes", Int32s({0})}}, {"o", kFp32, {2, 1}});
  Run1("squeeze", {{"x", F32({1, 2, 1}, {1, 2})}}, {}, {"o", kFp32, {2}});
}

TEST(ShapeKernels, GatherRowsAndErrors) {
  Tensor table = Iota({4, 2});
  auto r = RunOp("gather", {{"x", table}, {"indices", I32({1, 3}, {3, 0, -1})}},
                 {{"axis", Scalar(0)}, {"batch_dims", Scalar(0)}}, {{"o", kFp32, {1, 3, 2}}});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_THAT(r->at("o").ToFloats(), ElementsAre(6, 7, 0, 1, 6, 7));
  auto cols = RunOp("gather", {{"x", table}, {"indices", I32({1}, {1})}}, {{"axis", Scalar(1)}},
                    {{"o", kFp32, {4, 1}}});
  ASSERT_TRUE(cols.ok());
  EXPECT_THAT(cols->at("o").ToFloats(), ElementsAre(1, 3, 5, 7));
  auto bad = RunOp("gather", {{"x", table}, {"indices", I32({1}, {4})}}, {{"axis", Scalar(0)}},
                   {{"o", kFp32, {1, 2}}});
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.status().message(), HasSubstr("out of range"));
}

TEST(ShapeKernels, BandPartSelectFill) {
  EXPECT_THAT(Run1("band_part", {{"x", F32({3, 3}, {1, 1, 1, 1, 1, 1, 1, 1, 1})}},
                   {{"lower", Scalar(-1)}, {"upper", Scalar(0)}}, {"o", kFp32, {3, 3}}),
              ElementsAre(1, 0, 0, 1, 1, 0, 1, 1, 1));
  EXPECT_THAT(Run1("band_part", {{"x", F32({3, 3}, {1, 1, 1, 1, 1, 1, 1, 1, 1})}},
                   {{"lower", Scalar(0)}, {"upper", Scalar(1)}}, {"o", kFp32, {3, 3}}),
              ElementsAre(1, 1, 0, 0, 1, 1, 0, 0, 1));
  auto s = RunOp("select", {{"cond", Tensor::FromInts(DType::kBool, {2, 1}, std::vector<int64_t>{1, 0})},
                            {"a", F32({2}, {1, 2})}, {"b", F32({}, {-5})}},
                 {}, {{"o", kFp32, {2, 2}}});
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_THAT(s->at("o").ToFloats(), ElementsAre(1, 2, -5, -5));
  EXPECT_THAT(Run1("fill", {}, {{"shape", Int32s({2, 2})}, {"value", ScalarF(3.5f)}}, {"o", kFp32, {2, 2}}),
              ElementsAre(3.5, 3.5, 3.5, 3.5));
  EXPECT_THAT(Run1("identity", {{"x", F32({2}, {7, 8})}}, {}, {"o", kFp32, {2}}), ElementsAre(7, 8));
}

}  // namespace
}  // namespace anec::runtime
