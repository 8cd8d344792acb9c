// State ops (iOS18): read_state(input) and write_state(input, data).
#include "mil/op_registry.h"

namespace anec::mil {

void RegisterStateOps(OpRegistry& r) {
  r.Register({"read_state", Opset::kIOS18, {{"input", true, false, ParamKind::kState}},
              [](OpCall& c) -> Result<std::vector<TensorType>> {
                return std::vector<TensorType>{c.In("input").type()};
              }});
  r.Register({"write_state", Opset::kIOS18,
              {{"input", true, false, ParamKind::kState}, {"data", true, false, ParamKind::kTensor}},
              [](OpCall& c) -> Result<std::vector<TensorType>> {
                if (c.In("data").type() != c.In("input").type()) {
                  return c.Error("data", fmt::format("expected {} (the state's type), found {}",
                                                     c.In("input").type().ToString(),
                                                     c.In("data").type().ToString()));
                }
                return std::vector<TensorType>{};  // no outputs
              }});
}

}  // namespace anec::mil
