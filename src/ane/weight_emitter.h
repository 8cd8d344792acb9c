// WeightEmitter: puts checkpoint weights into a MIL program as named constants.
//
// Each weight gets a stable const name (e.g. "layers_3_q_proj_weight") that is also its
// SharedConst key, so the `infer` and `prefill` functions of one program share one blob and a
// later step can find the weight again by name (PackageConstants). Three sources:
//  - the checkpoint (fp16 conversion, or LUT palettization when lut_bits > 0);
//  - GGUF blocks the source hands over through WeightSource::ReadRaw (--preserve-quant): carried
//    as they are (ggml_blocks.h), as `<name>_data` + `<name>_scale` or `<name>_indices` +
//    `<name>_lut`; the LUT format is ignored for those matrices;
//  - GPTQ / AWQ int4 groups from WeightSource::ReadInt4 (int4_blocks.h): `<name>_data` (uint4) +
//    `<name>_scale` + `<name>_offset`; with act-order the constexpr op is `<name>_grouped` (its
//    inputs `<name>_grouped_*`) and the weight is its gather by `<name>_input_order` on axis 1;
//  - an earlier package (ReuseFrom): the stored bytes are copied, never recomputed.
// Errors go to the ProgramBuilder (sticky), so builders check one status at the end.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "ane/package_constants.h"
#include "ane/weight_source.h"
#include "mil/program_builder.h"
#include "quant/channel_importance.h"

namespace anec::ane {

// --lut auto: a palettized matrix's LUT bits and, when the plan kept them, the group tables it
// fitted at those bits while measuring (quant::LutConfig::tables): the writer then assigns the
// elements to them instead of running the k-means again, with the same result.
struct PlannedLut {
  int bits = 0;
  std::vector<uint16_t> tables;      // empty: fitted when written
  uint64_t tables_input_hash = 0;    // quant::LutResult::input_hash of the plan's palettization
  std::vector<uint16_t> row_scales;  // with row scales: the ones fitted with `tables`
};
// By (role, layer); the LM head is (kLmHead, 0). Matrices it does not name use
// WeightFormat::lut_bits.
using LutBitsPlan = std::map<std::pair<model::TensorRole, int64_t>, PlannedLut>;

struct WeightFormat {
  int lut_bits = 0;   // 0: fp16; else palettize with 2^lut_bits entries per group
  int lut_group = 8;  // output channels (rows) per lookup table (reduced to the largest
                      // divisor of a matrix's rows when it does not divide them)
  // Per-output-channel scales with the tables (quant::LutConfig::row_scale): the matmul then
  // reads the normalised weight and ScaleOutput multiplies its output by the row scales.
  bool lut_row_scale = false;
};

class WeightEmitter {
 public:
  // REQUIRES: `program`, `source` outlive the emitter; `source` may be null only with ReuseFrom.
  WeightEmitter(mil::ProgramBuilder* program, const WeightSource* source, WeightFormat format);

  // Take every weight from `consts` (by name) instead of the checkpoint.
  void ReuseFrom(const PackageConstants* consts) { reuse_ = consts; }

  // Weight the k-means of each palettized matrix by its calibrated column importance, found by
  // the matrix's const name (null: plain k-means; an MLP slice a file budget split off uses its
  // whole matrix's statistics); the LM head's rows also by the calibrated
  // next-token probabilities (ChannelImportance::lm_head_rows). A matrix it does not name, or
  // whose column count differs, is palettized plainly and counted in unweighted_matrices().
  // REQUIRES: `importance` outlives the emitter.
  void UseImportance(const quant::ChannelImportance* importance) { importance_ = importance; }
  // Per-matrix LUT bits (null: WeightFormat::lut_bits for all). REQUIRES: outlives the emitter;
  // every value is 1, 2, 3, 4, 6 or 8.
  void UseBitsPlan(const LutBitsPlan* plan) { bits_plan_ = plan; }
  int weighted_matrices() const { return weighted_; }
  // Matrices palettized with the plan's tables (PlannedLut::tables) rather than fitted.
  int planned_tables_used() const { return planned_tables_used_; }
  int unweighted_matrices() const { return unweighted_; }

  // Called with the element count of every matrix once it is written (converted, palettized or
  // carried), for progress reports; not for a matrix another function of the program already
  // stored.
  void OnWeights(std::function<void(int64_t elements)> f) { on_weights_ = std::move(f); }

  // Rows [row_begin, row_end) of the 2-D tensor `role` (at `layer`), shaped `shape` (whose
  // element count must be (row_end-row_begin) * cols), e.g. [rows, cols, 1, 1] for a 1x1 conv.
  // Palettized when the format asks for it (groups of lut_group rows).
  mil::Value Matrix(mil::Function* f, const std::string& name, model::TensorRole role,
                    int64_t layer, int64_t row_begin, int64_t row_end, std::vector<int64_t> shape);
  // Columns [col_begin, col_end) of the 2-D tensor `role` (at `layer`), every row, shaped `shape`
  // (element count rows * (col_end-col_begin)), e.g. [rows, n, 1, 1]: the part of down_proj that
  // one slice of the MLP's intermediate dimension feeds (plans that split a layer). Palettized on
  // its own (groups of lut_group rows of this slice). Errors for GGUF blocks kept by
  // --preserve-quant, whose blocks run along the columns.
  mil::Value MatrixColumns(mil::Function* f, const std::string& name, model::TensorRole role,
                           int64_t layer, int64_t col_begin, int64_t col_end,
                           std::vector<int64_t> shape);
  // A whole small tensor (norm weight, bias) as fp16 of `shape`; never palettized. `add` is added
  // to every element first (Gemma's norm gains 1 + w: the stored w is exact in fp16 for BF16 and
  // F16 checkpoints, so the gain is rounded once). A reused package's constant is taken as is.
  // `mul` then multiplies the result ((add + w) * mul, rounded once; --residual-scale).
  mil::Value Vector(mil::Function* f, const std::string& name, model::TensorRole role,
                    int64_t layer, std::vector<int64_t> shape, double add = 0.0, double mul = 1.0);

  // `conv_out` ([1, rows, 1, S], the 1x1 conv over the weight `weight_name` emitted by Matrix or
  // MatrixColumns in this function) times the weight's row scales, [1, rows, 1, 1], when it was
  // palettized with them (WeightFormat::lut_row_scale); else `conv_out` unchanged. coremltools
  // puts a per-channel scale after the matmul too for the Neural Engine (its
  // reorder_lut_per_channel_scale pass) instead of a constexpr op on the weight.
  // `op_name` names the mul. HasRowScale: whether ScaleOutput would scale (a bias must then be
  // added after it, not inside the conv).
  bool HasRowScale(const std::string& weight_name) const;
  mil::Value ScaleOutput(mil::Function* f, const std::string& weight_name, mil::Value conv_out,
                         const std::string& op_name);

  const WeightFormat& format() const { return format_; }

 private:
  // The fp16 tensor, from the checkpoint or the reused package.
  Result<mil::Tensor> Fp16(const std::string& name, model::TensorRole role, int64_t layer,
                           int64_t elem_begin, int64_t elem_end, std::vector<int64_t> shape);
  // Columns [first, second) of every row (MatrixColumns).
  using ColumnRange = std::pair<int64_t, int64_t>;
  // The calibration statistics of the whole MLP matrix an unnamed slice comes from (rows of gate
  // / up: all its columns; columns of down: that range, in *storage); null when none apply.
  const std::vector<float>* WholeMatrixColumns(model::TensorRole role, int64_t layer,
                                               const ColumnRange* columns,
                                               std::vector<float>* storage) const;
  Result<mil::Tensor> Fp16Columns(const std::string& name, model::TensorRole role, int64_t layer,
                                  ColumnRange columns, std::vector<int64_t> shape);
  // `columns` set: rows [row_begin, row_end) are all rows and the data is that column range.
  mil::Value Palettized(mil::Function* f, const std::string& name, model::TensorRole role,
                        int64_t layer, int64_t row_begin, int64_t row_end,
                        const std::vector<int64_t>& shape, const ColumnRange* columns = nullptr);
  mil::Value Shared(mil::Function* f, const std::string& name, Result<mil::Tensor> t);
  // A constexpr op over stored inputs `<base>_<first>`, `<base>_<second>` and, when `third` is
  // set, `<base>_<third>`. `permuted` (GPTQ act-order): the op is named `<name>_grouped` (= base)
  // and `name` is gather(<name>_grouped, <name>_input_order, axis=1); else base = name.
  struct PreservedKind {
    std::string op, first, second, third;
    bool permuted = false;
  };
  // Emits `name` from GGUF blocks or GPTQ/AWQ int4 groups (or the reused package's copy of
  // them); nullopt when the weight is not a preserved one and the fp16/LUT path applies.
  std::optional<mil::Value> Preserved(mil::Function* f, const std::string& name,
                                      model::TensorRole role, int64_t layer, int64_t row_begin,
                                      int64_t row_end, const std::vector<int64_t>& shape);
  // The op (and gather) of `kind` over the stored inputs; `inputs` are the first/second/third
  // values, `order` the gather indices (permuted kinds only).
  mil::Value PreservedOp(mil::Function* f, const std::string& name, const PreservedKind& kind,
                         const std::vector<mil::Value>& inputs, mil::Value order);

  mil::ProgramBuilder* program_;
  const WeightSource* source_;
  WeightFormat format_;
  const PackageConstants* reuse_ = nullptr;
  const quant::ChannelImportance* importance_ = nullptr;
  const LutBitsPlan* bits_plan_ = nullptr;
  int planned_tables_used_ = 0;
  int weighted_ = 0, unweighted_ = 0;
  std::function<void(int64_t)> on_weights_;
  std::set<std::string> emitted_;  // names already stored in this program
  // Row scales (`<weight>_row_scale`, [1, rows, 1, 1]) palettized but not yet stored: the first
  // ScaleOutput stores them; and the const value of each scale in each function that used it.
  std::map<std::string, mil::Tensor> row_scales_;
  std::map<std::pair<const mil::Function*, std::string>, mil::Value> row_scale_values_;
  std::map<std::string, PreservedKind> preserved_;  // matrices emitted by Preserved()
};

}  // namespace anec::ane

namespace anec::ane {
// "layers_3_q_proj": the const name of a per-layer weight.
std::string LayerWeightName(int64_t layer, std::string_view tag);
// The rows per LUT of a matrix with `rows` rows: the largest divisor of `rows` not above the
// requested group (LUT groups must tile the rows).
int LutGroupFor(int64_t rows, int group);
}  // namespace anec::ane
