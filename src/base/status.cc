// Names and string forms of the shared value types of include/cairn/{status,types}.h.
#include "cairn/status.h"
#include "cairn/types.h"

namespace cairn {

std::string_view ErrorCodeName(ErrorCode code) {
  switch (code) {
    case ErrorCode::kOk: return "ok";
    case ErrorCode::kInvalidArgument: return "invalid_argument";
    case ErrorCode::kNotFound: return "not_found";
    case ErrorCode::kConflict: return "conflict";
    case ErrorCode::kRuleViolation: return "rule_violation";
    case ErrorCode::kTooLarge: return "too_large";
    case ErrorCode::kUnauthenticated: return "unauthenticated";
    case ErrorCode::kPermissionDenied: return "permission_denied";
    case ErrorCode::kBusy: return "busy";
    case ErrorCode::kTimeout: return "timeout";
    case ErrorCode::kShuttingDown: return "shutting_down";
    case ErrorCode::kNotWriter: return "not_writer";
    case ErrorCode::kCorruption: return "corruption";
    case ErrorCode::kIOError: return "io_error";
    case ErrorCode::kInternal: return "internal";
  }
  return "unknown";
}

std::string Status::ToString() const {
  if (ok()) return "ok";
  std::string s(ErrorCodeName(code_));
  s += ": ";
  s += message_;
  if (!field_.empty()) s += " (field " + field_ + ")";
  return s;
}

std::string Position::ToString() const {
  return topic + "/" + std::to_string(partition.value()) + "/" + std::to_string(offset.value());
}

bool ExpectedVersion::Accepts(StreamVersion current) const {
  switch (kind_) {
    case Kind::kAny: return true;
    case Kind::kNoStream: return current.value() == 0;
    case Kind::kExists: return current.value() > 0;
    case Kind::kExact: return current.value() == version_;
  }
  return false;
}

std::string ExpectedVersion::ToString() const {
  switch (kind_) {
    case Kind::kAny: return "any";
    case Kind::kNoStream: return "no_stream";
    case Kind::kExists: return "exists";
    case Kind::kExact: return std::to_string(version_);
  }
  return "?";
}

}  // namespace cairn
