// A small streaming JSON writer for the JSON Cairn produces: API responses, read-model views,
// event payloads, write-model state. Strings are escaped for JSON (quotes, backslash, control
// characters) and kept valid UTF-8 (an invalid byte sequence becomes U+FFFD), so whatever bytes
// go in, the output parses.
//
// Usage:
//   JsonWriter w;
//   w.BeginObject().Key("orderId").String(id).Key("version").Int(3).EndObject();
//   std::string json = w.Take();
//
// The writer inserts commas itself. REQUIRES (checked by assert): inside an object every value is
// preceded by Key(); Begin/End calls are balanced before Take().
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace cairn::json {

// Appends `text` to `out` as a quoted, escaped JSON string.
void AppendQuoted(std::string* out, std::string_view text);

class JsonWriter {
 public:
  JsonWriter& BeginObject();
  JsonWriter& EndObject();
  JsonWriter& BeginArray();
  JsonWriter& EndArray();
  // The key of the next value. REQUIRES: directly inside an object.
  JsonWriter& Key(std::string_view key);

  JsonWriter& String(std::string_view value);
  JsonWriter& Int(int64_t value);
  JsonWriter& Uint(uint64_t value);
  JsonWriter& Bool(bool value);
  JsonWriter& Null();
  // A number with `decimals` digits after the point ("12.5"); NaN and infinities become null.
  JsonWriter& Fixed(double value, int decimals);
  // Already-serialized JSON, inserted as one value. REQUIRES: `json` is one valid JSON value
  // (e.g. a view read back from a read model).
  JsonWriter& Raw(std::string_view json);

  const std::string& str() const { return out_; }
  // The document so far; the writer is empty afterwards.
  std::string Take();

 private:
  void BeforeValue();
  void Open(char bracket, bool is_object);
  void Close(char bracket, bool is_object);

  struct Level {
    bool is_object = false;
    bool empty = true;
  };
  std::string out_;
  std::vector<Level> levels_;
  bool after_key_ = false;
};

}  // namespace cairn::json
