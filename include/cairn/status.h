// Errors as values. Every fallible call in Cairn's public API returns a Status or a Result<T>;
// no exception crosses a module boundary. The HTTP layer and the CLI each map ErrorCode to their
// own status/exit codes in one table.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace cairn {

enum class ErrorCode {
  kOk = 0,
  kInvalidArgument,   // the caller's input is malformed or out of range (HTTP 400)
  kNotFound,          // an unknown topic, stream, event, projection, job... (HTTP 404)
  kConflict,          // expected version mismatch, duplicate that cannot be reconciled (HTTP 409)
  kRuleViolation,     // a domain rule forbids the command in the current state (HTTP 422)
  kTooLarge,          // a payload or batch over its configured limit (HTTP 413)
  kUnauthenticated,   // no or bad credentials (HTTP 401)
  kPermissionDenied,  // credentials valid, role insufficient (HTTP 403)
  kBusy,              // the data dir is locked by another process, or a resource cap is hit (HTTP 503)
  kTimeout,           // a wait (read-your-writes, WaitFor) ran out (HTTP 504)
  kShuttingDown,      // the engine is closing and took no new work (HTTP 503)
  kNotWriter,         // this node is a read replica: writes go to the writer (HTTP 421);
                      // the status's field names the writer's URL when it is known
  kCorruption,        // stored data failed a check (HTTP 500, exit 2)
  kIOError,           // the disk or the OS refused (HTTP 500, exit 2)
  kInternal,          // a bug: an invariant did not hold (HTTP 500, exit 2)
};

// Short stable name used in JSON errors and logs, e.g. "invalid_argument".
std::string_view ErrorCodeName(ErrorCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(ErrorCode code, std::string message, std::string field = {})
      : code_(code), message_(std::move(message)), field_(std::move(field)) {}

  static Status Ok() { return {}; }
  static Status InvalidArgument(std::string msg, std::string field = {}) {
    return {ErrorCode::kInvalidArgument, std::move(msg), std::move(field)};
  }
  static Status NotFound(std::string msg) { return {ErrorCode::kNotFound, std::move(msg)}; }
  static Status Conflict(std::string msg) { return {ErrorCode::kConflict, std::move(msg)}; }
  static Status TooLarge(std::string msg, std::string field = {}) {
    return {ErrorCode::kTooLarge, std::move(msg), std::move(field)};
  }
  static Status Busy(std::string msg) { return {ErrorCode::kBusy, std::move(msg)}; }
  static Status Timeout(std::string msg) { return {ErrorCode::kTimeout, std::move(msg)}; }
  static Status IOError(std::string msg) { return {ErrorCode::kIOError, std::move(msg)}; }
  static Status Corruption(std::string msg) { return {ErrorCode::kCorruption, std::move(msg)}; }
  static Status Internal(std::string msg) { return {ErrorCode::kInternal, std::move(msg)}; }

  bool ok() const { return code_ == ErrorCode::kOk; }
  ErrorCode code() const { return code_; }
  const std::string& message() const { return message_; }
  // The request field the error is about ("items[0].price"), empty when not about one field.
  const std::string& field() const { return field_; }
  // "conflict: stream order-1 is at version 3, expected 2"
  std::string ToString() const;

 private:
  ErrorCode code_ = ErrorCode::kOk;
  std::string message_;
  std::string field_;
};

// A value or the Status explaining why there is none. REQUIRES: a Result built from a Status
// holds a non-ok one.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}  // NOLINT: implicit by design
  Result(Status status) : v_(std::move(status)) {}  // NOLINT

  bool ok() const { return std::holds_alternative<T>(v_); }
  const Status& status() const {
    static const Status kOkStatus;
    return ok() ? kOkStatus : std::get<Status>(v_);
  }
  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace cairn

// Returns early from the enclosing function when `expr` (a Status) is not ok.
#define CAIRN_RETURN_IF_ERROR(expr)           \
  do {                                        \
    ::cairn::Status cairn_status_ = (expr);   \
    if (!cairn_status_.ok()) return cairn_status_; \
  } while (0)

// Evaluates `rexpr` (a Result<T>). When it is not ok, returns its Status from the enclosing
// function; else moves its value into `lhs`, a declaration (`auto x`, `std::string name`) or an
// existing variable. Expands to several statements: not for the body of an unbraced if.
#define CAIRN_ASSIGN_OR_RETURN(lhs, rexpr) \
  CAIRN_ASSIGN_OR_RETURN_IMPL_(CAIRN_CONCAT_(cairn_result_, __LINE__), lhs, rexpr)
#define CAIRN_ASSIGN_OR_RETURN_IMPL_(result, lhs, rexpr) \
  auto result = (rexpr);                                 \
  if (!result.ok()) return result.status();              \
  lhs = std::move(result).value()
#define CAIRN_CONCAT_(a, b) CAIRN_CONCAT_IMPL_(a, b)
#define CAIRN_CONCAT_IMPL_(a, b) a##b
