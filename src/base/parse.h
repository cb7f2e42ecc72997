// Parsing of the small textual values every edge (HTTP, CLI, import) reads: whole numbers and
// log positions. Errors name the field they are about.
#pragma once

#include <charconv>
#include <optional>
#include <string_view>

#include "cairn/status.h"
#include "cairn/types.h"

namespace cairn {

// The whole of `text` as a decimal number of type T; nothing when it is empty, has anything
// else in it, or does not fit.
template <typename T>
std::optional<T> ParseNumber(std::string_view text) {
  T value{};
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

// "topic/partition/offset" (the topic may itself contain '/'); seq is left 0.
// kInvalidArgument naming `field` otherwise.
Result<Position> ParsePosition(std::string_view text, std::string_view field);

}  // namespace cairn
