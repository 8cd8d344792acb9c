// read_state / write_state on the caller's StateStore, plus FindKernel over all tables.
#include <cstring>

#include "runtime/kernels.h"
#include "runtime/op_context.h"

namespace anec::runtime {
namespace {

Status ReadState(OpContext& ctx) {
  ANEC_ASSIGN_OR_RETURN(std::string name, ctx.StateName("input"));
  auto it = ctx.states()->find(name);
  if (it == ctx.states()->end()) return InvalidArgument("state '{}' has no buffer", name);
  ctx.AddOutput(it->second);  // shares the buffer; see slice_update for in-place updates
  return Status::Ok();
}

Status WriteState(OpContext& ctx) {
  ANEC_ASSIGN_OR_RETURN(std::string name, ctx.StateName("input"));
  ANEC_ASSIGN_OR_RETURN(Tensor data, ctx.Input("data"));
  auto it = ctx.states()->find(name);
  if (it == ctx.states()->end()) return InvalidArgument("state '{}' has no buffer", name);
  Tensor& buffer = it->second;
  if (data.dtype() != buffer.dtype() || data.shape() != buffer.shape()) {
    return InvalidArgument("write_state: data {} does not match state '{}' {}", data.TypeString(),
                           name, buffer.TypeString());
  }
  if (data.SharesStorageWith(buffer)) return Status::Ok();  // updated in place already
  if (buffer.writable() && buffer.storage_use_count() == 1) {
    std::memcpy(buffer.mutable_bytes(), data.bytes(), data.nbytes());
  } else {
    // Someone still holds the old contents (a live read_state value): give the store a new
    // buffer rather than changing what they see.
    buffer = data.Clone();
  }
  return Status::Ok();
}

}  // namespace

void RegisterStateKernels(KernelTable* t) {
  (*t)["read_state"] = ReadState;
  (*t)["write_state"] = WriteState;
}

KernelFn FindKernel(std::string_view type) {
  static const KernelTable* table = [] {
    auto* t = new KernelTable();
    RegisterMathKernels(t);
    RegisterShapeKernels(t);
    RegisterLinalgKernels(t);
    RegisterConvKernels(t);
    RegisterStateKernels(t);
    RegisterNormKernels(t);
    RegisterSelectKernels(t);
    return t;
  }();
  auto it = table->find(type);
  return it == table->end() ? nullptr : it->second;
}

}  // namespace anec::runtime
