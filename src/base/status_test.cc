#include "base/status.h"

#include <gtest/gtest.h>

namespace anec {
namespace {

Result<int> Half(int x) {
  if (x % 2) return InvalidArgument("value {} is odd; pass an even number", x);
  return x / 2;
}

Result<int> Quarter(int x) {
  ANEC_ASSIGN_OR_RETURN(int h, Half(x));
  ANEC_ASSIGN_OR_RETURN(int q, Half(h));
  return q;
}

Status CheckPositive(int x) {
  if (x <= 0) return InvalidArgument("{} is not positive", x);
  return Status::Ok();
}

Status Both(int a, int b) {
  ANEC_RETURN_IF_ERROR(CheckPositive(a));
  ANEC_RETURN_IF_ERROR(CheckPositive(b));
  return Status::Ok();
}

TEST(StatusTest, OkAndMessages) {
  EXPECT_TRUE(Status::Ok().ok());
  Status s = NotFound("tensor {} missing in {}", "w", "a.safetensors");
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.code(), StatusCode::kNotFound);
  EXPECT_EQ(s.ToString(), "Not found: tensor w missing in a.safetensors");
  EXPECT_EQ(s.WithContext("step 3").message(), "step 3: tensor w missing in a.safetensors");
}

TEST(StatusTest, ResultPropagates) {
  EXPECT_EQ(*Quarter(8), 2);
  Result<int> r = Quarter(6);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "value 3 is odd; pass an even number");
  EXPECT_TRUE(Both(1, 2).ok());
  EXPECT_EQ(Both(1, -2).message(), "-2 is not positive");
}

TEST(StatusTest, ResultFromOkStatusIsInternal) {
  Result<int> r{Status::Ok()};
  EXPECT_EQ(r.status().code(), StatusCode::kInternal);
}

}  // namespace
}  // namespace anec
