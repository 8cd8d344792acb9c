// ChannelImportance: how much each input column of each linear weight matters, measured by
// running the fp16 model over calibration text (src/calib/).
//
// For a linear layer y = W x, the output error caused by replacing W with W + D over the
// calibration tokens is sum_t |D x_t|^2. Its diagonal part, sum_ij D_ij^2 E[x_j^2], is what the
// importance-weighted k-means minimises (palettize.h) when every element of column j carries
// E[x_j^2]: the activation second moment is the diagonal of the layer's Hessian (GPTQ, AWQ and
// SqueezeLLM use the same quantity or its gradient-weighted form).
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace anec::quant {

struct ChannelImportance {
  // Weight const name ("layers_3_q_proj", "lm_head_0") -> one finite value >= 0 per input column.
  std::map<std::string, std::vector<float>, std::less<>> columns;
  // The LM head's output side: the mean next-token probability the fp16 model gave each
  // vocabulary row over the calibration tokens (sums to 1; empty when not measured). A logit's
  // error costs about p times its square in the KL divergence (the softmax Hessian's diagonal),
  // so the head's k-means weights row r by this plus a floor (LmHeadRowWeight).
  std::vector<float> lm_head_rows;

  // Row r's weight: p_r plus the mean probability 1/V, so tokens the calibration text never
  // predicted still count as an average token does.
  float LmHeadRowWeight(int64_t row) const {
    const float floor =
        lm_head_rows.empty() ? 1.0f : 1.0f / static_cast<float>(lm_head_rows.size());
    if (row < 0 || row >= static_cast<int64_t>(lm_head_rows.size())) return floor;
    return lm_head_rows[static_cast<size_t>(row)] + floor;
  }
  // `--lut auto` (calib/loss_gradients.h), per weight const name: the mean squared gradient of
  // the next-token loss at each output row, and the mean squared input of each column, from one
  // back-propagation pass over the calibration tokens; rank one of the weights' Fisher
  // information, F_ij ~ rows_i cols_j. Empty when not measured.
  std::map<std::string, std::vector<float>, std::less<>> gradient_rows, gradient_columns;
  // What produced it, e.g. "default calibration text, 2048 tokens, sha256 1a2b..."; part of the
  // conversion's options fingerprint, so --restart never mixes two calibrations.
  std::string description;
  // The MLP channel order of the model it was measured on (ane/mlp_channel_order.h): "" for the
  // checkpoint's, else the conversion's ConvertOptions::mlp_channel_order. down_proj's columns
  // follow it, so statistics only apply to a conversion with the same order.
  std::string mlp_channel_order;

  // Null when `name` was not measured.
  const std::vector<float>* Find(std::string_view name) const {
    auto it = columns.find(name);
    return it == columns.end() ? nullptr : &it->second;
  }
};

}  // namespace anec::quant
