// Post-processors from tokenizer.json ("post_processor"): what Encode(add_special_tokens=true)
// wraps around the ids of one sequence, e.g. Llama's leading <|begin_of_text|> / <s>.
//
// Supported: TemplateProcessing (the "single" template), ByteLevel (ids unchanged), Sequence,
// null. Pair templates are not used by anec.
#pragma once

#include <cstdint>
#include <vector>

#include "base/status.h"
#include "text/json_util.h"

namespace anec::text {

class PostProcessor {
 public:
  // `j` is the value of "post_processor".
  static Result<PostProcessor> FromJson(const Json& j);

  std::vector<int32_t> Apply(std::vector<int32_t> ids) const;

 private:
  // Each step of the single template: ids to insert, or (empty + is_sequence) the input.
  struct Step {
    bool is_sequence = false;
    std::vector<int32_t> ids;
  };
  std::vector<Step> steps_;  // empty: identity
  Status Add(const Json& j);
};

}  // namespace anec::text
