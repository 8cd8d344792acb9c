#include "calib/importance_file.h"

#include <gtest/gtest.h>

#include <cmath>

#include "io/safetensors_writer.h"

namespace anec::calib {
namespace {

TEST(ImportanceFileTest, RoundTripsValuesAndDescription) {
  MemoryFileSystem fs;
  quant::ChannelImportance imp;
  imp.description = "default (sha256 00), first 8 tokens";
  imp.columns["layers_0_q_proj"] = {0.5f, 1.25f, 0.0f};
  imp.columns["lm_head_0"] = {3.0f};
  ASSERT_TRUE(WriteImportanceFile(&fs, "/w/calibration.safetensors", imp).ok());
  auto back = ReadImportanceFile(&fs, "/w/calibration.safetensors");
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->description, imp.description);
  EXPECT_EQ(back->columns, imp.columns);
}

TEST(ImportanceFileTest, RoundTripsTheMlpChannelOrder) {
  MemoryFileSystem fs;
  quant::ChannelImportance imp;
  imp.columns["layers_0_down_proj"] = {1.0f, 2.0f};
  ASSERT_TRUE(WriteImportanceFile(&fs, "/a.safetensors", imp).ok());
  imp.mlp_channel_order = "range-v1";
  ASSERT_TRUE(WriteImportanceFile(&fs, "/b.safetensors", imp).ok());
  auto a = ReadImportanceFile(&fs, "/a.safetensors");
  auto b = ReadImportanceFile(&fs, "/b.safetensors");
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->mlp_channel_order, "");  // files without the key: the checkpoint's order
  EXPECT_EQ(b->mlp_channel_order, "range-v1");
}

TEST(ImportanceFileTest, RoundTripsTheLmHeadRowProbabilities) {
  MemoryFileSystem fs;
  quant::ChannelImportance imp;
  imp.columns["lm_head_1"] = {1.0f, 2.0f};
  imp.lm_head_rows = {0.25f, 0.75f, 0.0f};
  ASSERT_TRUE(WriteImportanceFile(&fs, "/c.safetensors", imp).ok());
  auto back = ReadImportanceFile(&fs, "/c.safetensors");
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->lm_head_rows, imp.lm_head_rows);
  EXPECT_EQ(back->columns, imp.columns);  // not taken for a weight's columns
  // Row weights: p + 1/V; rows past the vocabulary (padding) weigh as an average token.
  EXPECT_FLOAT_EQ(back->LmHeadRowWeight(1), 0.75f + 1.0f / 3);
  EXPECT_FLOAT_EQ(back->LmHeadRowWeight(5), 1.0f / 3);
}

TEST(ImportanceFileTest, RoundTripsTheLossGradients) {
  MemoryFileSystem fs;
  quant::ChannelImportance imp;
  imp.columns["layers_0_q_proj"] = {1.0f, 2.0f};
  imp.gradient_rows["layers_0_q_proj"] = {0.5f, 0.25f, 4.0f};
  imp.gradient_columns["layers_0_q_proj"] = {3.0f, 1.5f};
  ASSERT_TRUE(WriteImportanceFile(&fs, "/g.safetensors", imp).ok());
  auto back = ReadImportanceFile(&fs, "/g.safetensors");
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->gradient_rows, imp.gradient_rows);
  EXPECT_EQ(back->gradient_columns, imp.gradient_columns);
  EXPECT_EQ(back->columns, imp.columns);  // not taken for a weight's columns
}

TEST(ImportanceFileTest, RefusesOtherSafetensorsFiles) {
  MemoryFileSystem fs;
  io::SafetensorsWriter w(&fs, "/w/model.safetensors");
  const float v[2] = {1, 2};
  ASSERT_TRUE(
      w.Add({"x", io::TensorDType::kF32, {2}}, {reinterpret_cast<const uint8_t*>(v), sizeof(v)})
          .ok());
  ASSERT_TRUE(w.Finish().ok());
  auto r = ReadImportanceFile(&fs, "/w/model.safetensors");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("/w/model.safetensors"), std::string::npos);
  EXPECT_NE(r.status().message().find("not an anec calibration file"), std::string::npos);
}

TEST(ImportanceFileTest, RefusesNegativeOrNonFiniteValues) {
  for (float bad : {-1.0f, NAN, INFINITY}) {
    MemoryFileSystem fs;
    quant::ChannelImportance imp;
    imp.columns["w"] = {1.0f, bad};
    ASSERT_TRUE(WriteImportanceFile(&fs, "/c.safetensors", imp).ok());
    auto r = ReadImportanceFile(&fs, "/c.safetensors");
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_NE(r.status().message().find("tensor 'w' element 1"), std::string::npos);
  }
}

}  // namespace
}  // namespace anec::calib
