#include "calib/reference_matrix.h"

#include <gtest/gtest.h>

#include <cmath>

#include "ane/ane_test_util.h"

namespace anec::calib {
namespace {

// Both products against plain loops over the matrix as held (fp16-rounded for the head), for an
// fp32 and an fp16 matrix: x W^T (+ bias), and dy W added to what `out` held (twice, so that
// W^T built on the first call is reused by the second).
TEST(ReferenceMatrixTest, ProductsFromEitherSideMatchPlainLoops) {
  const model::ModelSpec spec = ane::TinySpec(1, 40);
  const ane::MemoryWeightSource weights = ane::RandomWeights(spec, 7);
  runtime::ThreadPool pool(2);
  for (const auto& [role, half] :
       {std::pair{model::TensorRole::kGateProj, false}, {model::TensorRole::kLmHead, true}}) {
    auto m = ReadReferenceMatrix(weights, role, 0, half);
    ASSERT_TRUE(m.ok()) << m.status().ToString();
    const int64_t rows = m->rows, cols = m->cols, t = 5;
    std::vector<float> w(static_cast<size_t>(rows * cols));
    for (int64_t r = 0; r < rows; ++r) m->view.DecodeRow(r, w.data() + r * cols);
    std::vector<float> x(static_cast<size_t>(t * cols)), dy(static_cast<size_t>(t * rows)),
        bias(static_cast<size_t>(rows));
    for (size_t i = 0; i < x.size(); ++i) x[i] = std::sin(0.7f * static_cast<float>(i));
    for (size_t i = 0; i < dy.size(); ++i) dy[i] = std::cos(0.3f * static_cast<float>(i));
    for (size_t i = 0; i < bias.size(); ++i) bias[i] = 0.01f * static_cast<float>(i);

    std::vector<float> y;
    MultiplyByWt(x, t, *m, bias.data(), &y, &pool);
    ASSERT_EQ(static_cast<int64_t>(y.size()), t * rows);
    for (int64_t i = 0; i < t; ++i) {
      for (int64_t r = 0; r < rows; ++r) {
        double want = bias[static_cast<size_t>(r)];
        for (int64_t c = 0; c < cols; ++c) want += double{x[i * cols + c]} * w[r * cols + c];
        EXPECT_NEAR(y[static_cast<size_t>(i * rows + r)], want, 1e-4 * (1 + std::fabs(want)));
      }
    }

    std::vector<float> dx, scratch;
    ASSERT_TRUE(AddProductWithW(dy, t, *m, &dx, &scratch, &pool).ok());
    ASSERT_TRUE(m->transposed != nullptr);
    ASSERT_TRUE(AddProductWithW(dy, t, *m, &dx, &scratch, &pool).ok());
    ASSERT_EQ(static_cast<int64_t>(dx.size()), t * cols);
    for (int64_t i = 0; i < t; ++i) {
      for (int64_t c = 0; c < cols; ++c) {
        double want = 0;
        for (int64_t r = 0; r < rows; ++r) want += double{dy[i * rows + r]} * w[r * cols + c];
        EXPECT_NEAR(dx[static_cast<size_t>(i * cols + c)], 2 * want, 1e-4 * (1 + std::fabs(want)));
      }
    }
  }
}

TEST(ReferenceMatrixTest, AVectorIsNotAMatrix) {
  const model::ModelSpec spec = ane::TinySpec(1, 40);
  const ane::MemoryWeightSource weights = ane::RandomWeights(spec, 7);
  EXPECT_FALSE(ReadReferenceMatrix(weights, model::TensorRole::kInputNorm, 0, false).ok());
  auto g = ReadReferenceVector(weights, model::TensorRole::kInputNorm, 0, 1.0);
  auto raw = ReadReferenceVector(weights, model::TensorRole::kInputNorm, 0, 0.0);
  ASSERT_TRUE(g.ok() && raw.ok());
  EXPECT_FLOAT_EQ((*g)[0], (*raw)[0] + 1.0f);
}

}  // namespace
}  // namespace anec::calib
