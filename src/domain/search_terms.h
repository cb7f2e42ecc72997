// How text becomes search terms, the same way for the index ("order_search" projection) and
// for queries (OrderQueries::Search). Internal to src/domain.
//
// A token is a run of ASCII letters and digits, bytes of non-ASCII UTF-8 characters, and the
// joiners - _ . @ / (trimmed from its ends); anything else separates tokens. Tokens are
// lowercased (ASCII only) and cut to kMaxTermBytes at a character boundary. The index keeps each
// token and the parts between its joiners ("teheran-ro" -> "teheran-ro", "teheran", "ro"), so a
// query can name a whole id ("6415479c-65dc-…") or a part of it ("6415479c").
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace cairn::domain {

inline constexpr size_t kMaxTermBytes = 64;

// Appends the index terms of `text` to `terms` (a term may then be there more than once).
void AddIndexTerms(std::string_view text, std::vector<std::string>* terms);
// The query's tokens, in order, without splitting at joiners.
std::vector<std::string> QueryTerms(std::string_view query);

}  // namespace cairn::domain
