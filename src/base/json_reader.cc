// simdjson On-Demand errors turned into field-named cairn::Status values.
#include "base/json_reader.h"

#include <algorithm>
#include <array>
#include <vector>

namespace cairn::json {
namespace {

using simdjson::error_code;
using simdjson::ondemand::json_type;
using simdjson::ondemand::number_type;

// The Status for a simdjson error met while reading the value at `path`, when the error is not
// a plain type mismatch (those get a message naming the expected type).
Status FromSimdjson(error_code error, const Path& path) {
  switch (error) {
    case simdjson::NUMBER_OUT_OF_RANGE:
      return FieldError(path, "is out of range");
    case simdjson::UTF8_ERROR:
      return FieldError(path, "is not valid UTF-8");
    case simdjson::STRING_ERROR:
      return FieldError(path, "is not a valid JSON string");
    default:
      return FieldError(path, std::string("is malformed JSON (") +
                                  simdjson::error_message(error) + ")");
  }
}

// Ok when `value` is of type `want`; else "<path> <problem>", or the Status for malformed input.
Status ExpectType(Value& value, const Path& path, json_type want, std::string_view problem) {
  json_type type;
  if (error_code error = value.type().get(type)) return FromSimdjson(error, path);
  if (type != want) return FieldError(path, problem);
  return Status::Ok();
}

}  // namespace

std::string JoinPath(std::string_view parent, std::string_view key) {
  if (parent.empty()) return std::string(key);
  std::string out(parent);
  out += '.';
  out += key;
  return out;
}

std::string IndexPath(std::string_view parent, size_t index) {
  return std::string(parent) + "[" + std::to_string(index) + "]";
}

Status FieldError(const Path& path, std::string_view problem) {
  std::string field = path.str();
  std::string message(field.empty() ? std::string_view("body") : std::string_view(field));
  message += ' ';
  message += problem;
  return Status::InvalidArgument(std::move(message), std::move(field));
}

Status UnknownField(std::string_view path, std::string_view key) {
  return FieldError(JoinPath(path, key), "is not a known field");
}

Status MissingField(const Path& path) { return FieldError(path, "is required"); }

// ---- Input and its per-thread pool ----

struct InputBuffers {
  std::string text;  // the document, then SIMDJSON_PADDING bytes
  simdjson::ondemand::parser parser;
};

namespace {

// Buffers an Input on this thread may take: a few (Inputs nest, e.g. a stored view read while an
// event is), and none grown by a larger document (they are freed, not kept: a parser's memory
// is several times its capacity). An Input returns its buffers to the pool of the thread that
// destroys it; Inputs do not outlive their thread.
class BufferPool {
 public:
  std::unique_ptr<InputBuffers> Take() {
    if (free_.empty()) return std::make_unique<InputBuffers>();
    std::unique_ptr<InputBuffers> buffers = std::move(free_.back());
    free_.pop_back();
    return buffers;
  }
  void Give(std::unique_ptr<InputBuffers> buffers) {
    constexpr size_t kMaxKept = 4;
    constexpr size_t kMaxKeptBytes = size_t{64} << 10;
    if (free_.size() < kMaxKept && buffers->text.capacity() <= kMaxKeptBytes &&
        buffers->parser.capacity() <= kMaxKeptBytes) {
      free_.push_back(std::move(buffers));
    }
  }

 private:
  std::vector<std::unique_ptr<InputBuffers>> free_;
};

BufferPool& ThreadPool() {
  thread_local BufferPool pool;
  return pool;
}

}  // namespace

Input::Input(std::string_view text) : buffers_(ThreadPool().Take()) {
  std::string& copy = buffers_->text;
  copy.assign(text);
  copy.append(simdjson::SIMDJSON_PADDING, '\0');
  const simdjson::padded_string_view padded(copy.data(), text.size(), copy.size());
  iterate_error_ = buffers_->parser.iterate(padded).get(doc_);
}

Input::~Input() { ThreadPool().Give(std::move(buffers_)); }

Result<Object> Input::RootObject() {
  if (iterate_error_ == simdjson::EMPTY) return FieldError("", "must be a JSON object, not empty");
  if (iterate_error_) return FromSimdjson(iterate_error_, "");
  json_type type;
  if (error_code error = doc_.type().get(type)) return FromSimdjson(error, "");
  if (type != json_type::object) return FieldError("", "must be a JSON object");
  Object object;
  if (error_code error = doc_.get_object().get(object)) return FromSimdjson(error, "");
  return object;
}

Status Input::ExpectEnd() {
  // At the end of the document current_location() has nothing left to point at.
  const char* where = nullptr;
  if (doc_.current_location().get(where) != simdjson::SUCCESS) return Status::Ok();
  return FieldError("", "has unexpected content after the JSON value");
}

Result<std::string> ReadString(Value value, const Path& path) {
  CAIRN_RETURN_IF_ERROR(ExpectType(value, path, json_type::string, "must be a string"));
  std::string_view text;
  if (error_code error = value.get_string().get(text)) return FromSimdjson(error, path);
  return std::string(text);
}

Result<int64_t> ReadInt(Value value, const Path& path) {
  CAIRN_RETURN_IF_ERROR(ExpectType(value, path, json_type::number, "must be an integer"));
  number_type kind;
  if (error_code error = value.get_number_type().get(kind)) return FromSimdjson(error, path);
  if (kind == number_type::floating_point_number) {
    const std::string_view token = value.raw_json_token();
    const bool fraction = token.find_first_of(".eE") != std::string_view::npos;
    // simdjson also classes integers beyond 64 bits as floating point.
    return FieldError(path, fraction ? "must be an integer, not a fraction" : "is out of range");
  }
  if (kind == number_type::unsigned_integer) return FieldError(path, "is out of range");
  int64_t number;
  if (error_code error = value.get_int64().get(number)) {
    // A negative integer below INT64_MIN is classed as signed but does not fit.
    if (error == simdjson::INCORRECT_TYPE) return FieldError(path, "is out of range");
    return FromSimdjson(error, path);
  }
  return number;
}

Result<bool> ReadBool(Value value, const Path& path) {
  CAIRN_RETURN_IF_ERROR(ExpectType(value, path, json_type::boolean, "must be true or false"));
  bool flag;
  if (error_code error = value.get_bool().get(flag)) return FromSimdjson(error, path);
  return flag;
}

Result<Object> ReadObject(Value value, const Path& path) {
  CAIRN_RETURN_IF_ERROR(ExpectType(value, path, json_type::object, "must be an object"));
  Object object;
  if (error_code error = value.get_object().get(object)) return FromSimdjson(error, path);
  return object;
}

Result<Array> ReadArray(Value value, const Path& path) {
  CAIRN_RETURN_IF_ERROR(ExpectType(value, path, json_type::array, "must be an array"));
  Array array;
  if (error_code error = value.get_array().get(array)) return FromSimdjson(error, path);
  return array;
}

bool IsNull(Value& value) {
  json_type type;
  if (value.type().get(type) || type != json_type::null) return false;
  bool null = false;
  return !value.is_null().get(null) && null;
}

Status ForEachField(Object& object, std::string_view path, const FieldVisitor& visit) {
  // The keys met so far: views into the parser's string buffer, which keeps every unescaped
  // string of the document. The first few in place, the rest (a large object) on the heap.
  std::array<std::string_view, 16> first;
  std::vector<std::string_view> more;
  size_t count = 0;
  for (auto maybe_field : object) {
    simdjson::ondemand::field field;
    if (error_code error = std::move(maybe_field).get(field)) return FromSimdjson(error, path);
    std::string_view key;
    if (error_code error = field.unescaped_key().get(key)) return FromSimdjson(error, path);
    const auto first_end = first.begin() + std::min(count, first.size());
    if (std::find(first.begin(), first_end, key) != first_end ||
        std::find(more.begin(), more.end(), key) != more.end()) {
      return FieldError(Path(path, key), "appears twice");
    }
    if (count < first.size()) {
      first[count] = key;
    } else {
      more.push_back(key);
    }
    ++count;
    CAIRN_RETURN_IF_ERROR(visit(key, field.value()));
  }
  return Status::Ok();
}

Status ForEachElement(Array& array, std::string_view path, const ElementVisitor& visit) {
  size_t index = 0;
  for (auto maybe_value : array) {
    Value value;
    if (error_code error = std::move(maybe_value).get(value)) {
      return FromSimdjson(error, IndexPath(path, index));
    }
    CAIRN_RETURN_IF_ERROR(visit(index, value));
    ++index;
  }
  return Status::Ok();
}

}  // namespace cairn::json
