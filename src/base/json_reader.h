// Reading JSON at the edge with simdjson On-Demand, turning every problem into a cairn::Status
// that names the field: kInvalidArgument with field() = "items[0].price" and a message such as
// "items[0].price must be an integer, not a fraction".
//
// Typical use (parse a request body into a typed struct, rejecting unknown fields):
//   json::Input input(body);
//   CAIRN_ASSIGN_OR_RETURN(json::Object root, input.RootObject());
//   Status s = json::ForEachField(root, "", [&](std::string_view key, json::Value v) -> Status {
//     if (key == "amount") {
//       CAIRN_ASSIGN_OR_RETURN(cmd.amount, json::ReadInt(v, "amount"));
//       return Status::Ok();
//     }
//     return json::UnknownField("", key);
//   });
//   then input.ExpectEnd() and the required-field checks.
//
// Values borrowed from an Input (objects, arrays, string views) are valid only while the Input
// lives and must be consumed in document order (On-Demand's rule): read each value once, copy
// what you keep.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <simdjson.h>

#include "cairn/status.h"
#include "base/function_ref.h"

namespace cairn::json {

using Value = simdjson::ondemand::value;
using Object = simdjson::ondemand::object;
using Array = simdjson::ondemand::array;

// "a" + "b" -> "a.b"; "" + "b" -> "b".
std::string JoinPath(std::string_view parent, std::string_view key);
// "items" + 2 -> "items[2]".
std::string IndexPath(std::string_view parent, size_t index);

// The path of the value being read, for error messages only: a whole path ("items[0].price"),
// or a parent and a key joined (JoinPath) only when a message needs them, so reading a valid
// field costs no string. Views: the strings must outlive the Path (pass it as an argument).
class Path {
 public:
  Path(std::string_view whole) : parent_(whole) {}  // NOLINT: a path is a string
  Path(const std::string& whole) : parent_(whole) {}  // NOLINT
  Path(const char* whole) : parent_(whole) {}  // NOLINT
  Path(std::string_view parent, std::string_view key) : parent_(parent), key_(key), joined_(true) {}

  std::string str() const {
    return joined_ ? JoinPath(parent_, key_) : std::string(parent_);
  }
  bool empty() const { return parent_.empty() && key_.empty(); }

 private:
  std::string_view parent_;
  std::string_view key_;
  bool joined_ = false;
};

// kInvalidArgument about `path`: message "<path> <problem>" (or "body <problem>" at the root),
// field() = path.
Status FieldError(const Path& path, std::string_view problem);
// "<path>.<key> is not a known field".
Status UnknownField(std::string_view path, std::string_view key);
// "<path> is required".
Status MissingField(const Path& path);

// One JSON document: a padded copy of the text, its parser and the On-Demand document.
// Not copyable or movable (the document points into the parser). The copy's buffer and the
// parser come from a small per-thread pool and go back to it with the Input, so parsing many
// small documents (events, stored views) does not allocate a parser each.
class Input {
 public:
  explicit Input(std::string_view text);
  ~Input();
  Input(const Input&) = delete;
  Input& operator=(const Input&) = delete;

  // The top-level value as an object. An empty text, malformed JSON or another type of value is
  // kInvalidArgument with an empty field.
  Result<Object> RootObject();
  // Call after the root value has been fully read: kInvalidArgument if anything but whitespace
  // follows it (e.g. `{"a":1} {"b":2}`).
  Status ExpectEnd();

 private:
  std::unique_ptr<struct InputBuffers> buffers_;  // the padded copy and the parser
  simdjson::ondemand::document doc_;
  simdjson::error_code iterate_error_ = simdjson::SUCCESS;
};

// Typed readers. Each consumes `value`; a wrong type, an out-of-range number or a malformed
// value is a FieldError about `path`.
Result<std::string> ReadString(Value value, const Path& path);
// An integer in int64 range. A fraction or exponent form ("1.5", "1e3") is "must be an
// integer, not a fraction"; an integer beyond int64 is "is out of range".
Result<int64_t> ReadInt(Value value, const Path& path);
Result<bool> ReadBool(Value value, const Path& path);
Result<Object> ReadObject(Value value, const Path& path);
Result<Array> ReadArray(Value value, const Path& path);
// Whether `value` is the literal null (then it is consumed). Malformed input reads as false and
// fails in the next typed read.
bool IsNull(Value& value);

// Moves a successfully read value into *out, or returns the read's error:
//   CAIRN_RETURN_IF_ERROR(json::Assign(json::ReadInt(v, "amount"), &cmd.amount));
template <typename T>
Status Assign(Result<T> result, T* out) {
  CAIRN_ASSIGN_OR_RETURN(*out, std::move(result));
  return Status::Ok();
}
template <typename T>
Status Assign(Result<T> result, std::optional<T>* out) {
  CAIRN_ASSIGN_OR_RETURN(*out, std::move(result));
  return Status::Ok();
}

// Calls `visit` for each field of `object` in document order. A key that appears twice is
// "<path>.<key> appears twice". Stops at, and returns, the first non-ok Status. The key's view
// is valid while the Input lives. Visitors are FunctionRefs (base/function_ref.h): pass the
// lambda as the argument; a FieldVisitor variable initialised from a lambda would dangle.
using FieldVisitor = FunctionRef<Status(std::string_view key, Value value)>;
Status ForEachField(Object& object, std::string_view path, const FieldVisitor& visit);

// Calls `visit` for each element of `array` with its index. Stops at the first non-ok Status.
using ElementVisitor = FunctionRef<Status(size_t index, Value value)>;
Status ForEachElement(Array& array, std::string_view path, const ElementVisitor& visit);

}  // namespace cairn::json
