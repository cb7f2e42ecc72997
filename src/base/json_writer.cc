// JSON output: escaping and the comma/nesting bookkeeping of JsonWriter.
#include "base/json_writer.h"

#include <cassert>
#include <cmath>
#include <cstdio>

namespace cairn::json {
namespace {

constexpr std::string_view kReplacement = "\xEF\xBF\xBD";  // U+FFFD in UTF-8

// Length of the valid UTF-8 sequence starting at text[i], or 0 if the bytes there are not one
// (overlong forms, surrogates and code points above U+10FFFF are invalid).
size_t Utf8SequenceLength(std::string_view text, size_t i) {
  const auto byte = [&](size_t k) { return static_cast<unsigned char>(text[k]); };
  const unsigned char lead = byte(i);
  size_t length;
  uint32_t min_code;
  uint32_t code;
  if (lead >= 0xC2 && lead <= 0xDF) {
    length = 2, min_code = 0x80, code = lead & 0x1F;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    length = 3, min_code = 0x800, code = lead & 0x0F;
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    length = 4, min_code = 0x10000, code = lead & 0x07;
  } else {
    return 0;
  }
  if (i + length > text.size()) return 0;
  for (size_t k = 1; k < length; ++k) {
    if ((byte(i + k) & 0xC0) != 0x80) return 0;
    code = (code << 6) | (byte(i + k) & 0x3F);
  }
  if (code < min_code || code > 0x10FFFF || (code >= 0xD800 && code <= 0xDFFF)) return 0;
  return length;
}

void AppendControlEscape(std::string* out, unsigned char c) {
  switch (c) {
    case '\b': *out += "\\b"; return;
    case '\f': *out += "\\f"; return;
    case '\n': *out += "\\n"; return;
    case '\r': *out += "\\r"; return;
    case '\t': *out += "\\t"; return;
    default: {
      static const char* kHex = "0123456789abcdef";
      *out += "\\u00";
      out->push_back(kHex[c >> 4]);
      out->push_back(kHex[c & 0xF]);
    }
  }
}

}  // namespace

void AppendQuoted(std::string* out, std::string_view text) {
  out->reserve(out->size() + text.size() + 2);
  out->push_back('"');
  size_t i = 0;
  while (i < text.size()) {
    // The run of printable ASCII that needs no escape, appended at once.
    size_t plain = i;
    while (plain < text.size()) {
      const unsigned char p = static_cast<unsigned char>(text[plain]);
      if (p < 0x20 || p >= 0x7F || p == '"' || p == '\\') break;
      ++plain;
    }
    if (plain > i) {
      out->append(text.data() + i, plain - i);
      i = plain;
      continue;
    }
    const unsigned char c = static_cast<unsigned char>(text[i]);
    if (c < 0x80) {
      if (c == '"' || c == '\\') {
        out->push_back('\\');
        out->push_back(static_cast<char>(c));
      } else if (c < 0x20 || c == 0x7F) {
        AppendControlEscape(out, c);
      } else {
        out->push_back(static_cast<char>(c));
      }
      ++i;
      continue;
    }
    const size_t length = Utf8SequenceLength(text, i);
    if (length == 0) {
      *out += kReplacement;
      ++i;
      continue;
    }
    // U+2028 and U+2029 are valid JSON but end lines in JavaScript: escape them.
    if (length == 3 && c == 0xE2 && static_cast<unsigned char>(text[i + 1]) == 0x80 &&
        (static_cast<unsigned char>(text[i + 2]) & 0xFE) == 0xA8) {
      *out += (text[i + 2] == '\xA8') ? "\\u2028" : "\\u2029";
    } else {
      out->append(text.substr(i, length));
    }
    i += length;
  }
  out->push_back('"');
}

void JsonWriter::BeforeValue() {
  if (levels_.empty()) {
    assert(out_.empty() && "a JSON document holds one top-level value");
    return;
  }
  Level& level = levels_.back();
  if (level.is_object) {
    assert(after_key_ && "a value inside an object needs a Key() first");
    after_key_ = false;
    return;
  }
  if (!level.empty) out_.push_back(',');
  level.empty = false;
}

void JsonWriter::Open(char bracket, bool is_object) {
  BeforeValue();
  out_.push_back(bracket);
  levels_.push_back(Level{is_object, true});
}

void JsonWriter::Close(char bracket, bool is_object) {
  assert(!levels_.empty() && levels_.back().is_object == is_object && !after_key_);
  (void)is_object;
  levels_.pop_back();
  out_.push_back(bracket);
}

JsonWriter& JsonWriter::BeginObject() {
  Open('{', true);
  return *this;
}
JsonWriter& JsonWriter::EndObject() {
  Close('}', true);
  return *this;
}
JsonWriter& JsonWriter::BeginArray() {
  Open('[', false);
  return *this;
}
JsonWriter& JsonWriter::EndArray() {
  Close(']', false);
  return *this;
}

JsonWriter& JsonWriter::Key(std::string_view key) {
  assert(!levels_.empty() && levels_.back().is_object && !after_key_);
  Level& level = levels_.back();
  if (!level.empty) out_.push_back(',');
  level.empty = false;
  AppendQuoted(&out_, key);
  out_.push_back(':');
  after_key_ = true;
  return *this;
}

JsonWriter& JsonWriter::String(std::string_view value) {
  BeforeValue();
  AppendQuoted(&out_, value);
  return *this;
}

JsonWriter& JsonWriter::Int(int64_t value) {
  BeforeValue();
  out_ += std::to_string(value);
  return *this;
}

JsonWriter& JsonWriter::Uint(uint64_t value) {
  BeforeValue();
  out_ += std::to_string(value);
  return *this;
}

JsonWriter& JsonWriter::Bool(bool value) {
  BeforeValue();
  out_ += value ? "true" : "false";
  return *this;
}

JsonWriter& JsonWriter::Null() {
  BeforeValue();
  out_ += "null";
  return *this;
}

JsonWriter& JsonWriter::Fixed(double value, int decimals) {
  if (!std::isfinite(value)) return Null();
  BeforeValue();
  char buffer[64];
  const int n = std::snprintf(buffer, sizeof buffer, "%.*f", decimals, value);
  out_.append(buffer, n > 0 ? static_cast<size_t>(n) : 0);
  return *this;
}

JsonWriter& JsonWriter::Raw(std::string_view json) {
  BeforeValue();
  out_ += json;
  return *this;
}

std::string JsonWriter::Take() {
  assert(levels_.empty() && "unbalanced Begin/End");
  std::string out = std::move(out_);
  out_.clear();
  after_key_ = false;
  return out;
}

}  // namespace cairn::json
