// Status and Result<T>: anec's one error model.
//
// Every fallible function returns a Status (or a Result<T> carrying a value or a Status) and
// callers propagate failures by early return (ANEC_RETURN_IF_ERROR / ANEC_ASSIGN_OR_RETURN).
// Exceptions are not used. A message must tell a user what went wrong and what to do: name the
// file, the field or tensor, what was expected and what was found.
#pragma once

#include <cassert>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

#include <fmt/format.h>

namespace anec {

enum class StatusCode {
  kOk = 0,
  kInvalidArgument,   // bad user input: options, files, checkpoints
  kNotFound,          // a file, tensor, key or repository that does not exist
  kCorrupt,           // a file whose bytes break its format
  kUnsupported,       // valid input that anec does not handle (yet)
  kIoError,           // the OS or network failed
  kNoSpace,           // a write found the disk (or the user's quota) full: ENOSPC, EDQUOT
  kPermissionDenied,  // gated / unauthorized access
  kFailedPrecondition,// a step run out of order, e.g. --restart without earlier outputs
  kInternal,          // a bug in anec
};

std::string_view StatusCodeName(StatusCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;  // OK
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status Ok() { return Status(); }
  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }
  // "Invalid argument: <message>" (or "OK").
  std::string ToString() const;

  // Returns a copy whose message is prefixed with `context: `, for adding the file or step.
  Status WithContext(std::string_view context) const;

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

// Formatting helpers: InvalidArgument("{}: tensor {} has shape {}", path, name, shape).
template <typename... Args>
Status InvalidArgument(fmt::format_string<Args...> f, Args&&... args) {
  return Status(StatusCode::kInvalidArgument, fmt::format(f, std::forward<Args>(args)...));
}
template <typename... Args>
Status NotFound(fmt::format_string<Args...> f, Args&&... args) {
  return Status(StatusCode::kNotFound, fmt::format(f, std::forward<Args>(args)...));
}
template <typename... Args>
Status Corrupt(fmt::format_string<Args...> f, Args&&... args) {
  return Status(StatusCode::kCorrupt, fmt::format(f, std::forward<Args>(args)...));
}
template <typename... Args>
Status Unsupported(fmt::format_string<Args...> f, Args&&... args) {
  return Status(StatusCode::kUnsupported, fmt::format(f, std::forward<Args>(args)...));
}
template <typename... Args>
Status IoError(fmt::format_string<Args...> f, Args&&... args) {
  return Status(StatusCode::kIoError, fmt::format(f, std::forward<Args>(args)...));
}
template <typename... Args>
Status NoSpace(fmt::format_string<Args...> f, Args&&... args) {
  return Status(StatusCode::kNoSpace, fmt::format(f, std::forward<Args>(args)...));
}
template <typename... Args>
Status PermissionDenied(fmt::format_string<Args...> f, Args&&... args) {
  return Status(StatusCode::kPermissionDenied, fmt::format(f, std::forward<Args>(args)...));
}
template <typename... Args>
Status FailedPrecondition(fmt::format_string<Args...> f, Args&&... args) {
  return Status(StatusCode::kFailedPrecondition, fmt::format(f, std::forward<Args>(args)...));
}
template <typename... Args>
Status Internal(fmt::format_string<Args...> f, Args&&... args) {
  return Status(StatusCode::kInternal, fmt::format(f, std::forward<Args>(args)...));
}

// Result<T>: either a T or a non-OK Status.
// REQUIRES: value() only when ok(); constructing from an OK Status is a bug (becomes kInternal).
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}  // NOLINT: implicit on purpose
  Result(Status status) : v_(std::move(status)) {  // NOLINT
    if (std::get<Status>(v_).ok()) v_ = Status(StatusCode::kInternal, "Result built from OK status");
  }

  bool ok() const { return std::holds_alternative<T>(v_); }
  const Status& status() const {
    static const Status kOk;
    return ok() ? kOk : std::get<Status>(v_);
  }
  T& value() & { assert(ok()); return std::get<T>(v_); }
  const T& value() const& { assert(ok()); return std::get<T>(v_); }
  T&& value() && { assert(ok()); return std::get<T>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace anec

#define ANEC_CONCAT_INNER_(a, b) a##b
#define ANEC_CONCAT_(a, b) ANEC_CONCAT_INNER_(a, b)

// Returns the Status from the enclosing function if `expr` (a Status) is not OK.
#define ANEC_RETURN_IF_ERROR(expr)                    \
  do {                                                \
    ::anec::Status anec_status_ = (expr);             \
    if (!anec_status_.ok()) return anec_status_;      \
  } while (0)

// ANEC_ASSIGN_OR_RETURN(auto x, ComputeResult()); returns the error, else binds the value.
#define ANEC_ASSIGN_OR_RETURN(lhs, expr) \
  ANEC_ASSIGN_OR_RETURN_IMPL_(ANEC_CONCAT_(anec_result_, __LINE__), lhs, expr)
#define ANEC_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                                \
  if (!tmp.ok()) return tmp.status();               \
  lhs = std::move(tmp).value()
