// See parse.h.
#include "base/parse.h"

#include <string>

namespace cairn {

Result<Position> ParsePosition(std::string_view text, std::string_view field) {
  const Status bad = Status::InvalidArgument(
      std::string(field) + " must be a position topic/partition/offset", std::string(field));
  const size_t second = text.rfind('/');
  if (second == std::string_view::npos || second == 0) return bad;
  const size_t first = text.rfind('/', second - 1);
  if (first == std::string_view::npos || first == 0) return bad;
  const std::optional<uint32_t> partition =
      ParseNumber<uint32_t>(text.substr(first + 1, second - first - 1));
  const std::optional<uint64_t> offset = ParseNumber<uint64_t>(text.substr(second + 1));
  if (!partition || !offset) return bad;
  Position p;
  p.topic = std::string(text.substr(0, first));
  p.partition = PartitionId(*partition);
  p.offset = Offset(*offset);
  return p;
}

}  // namespace cairn
