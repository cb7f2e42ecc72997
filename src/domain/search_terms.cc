// Tokenizing for order search (rules in search_terms.h).
#include "domain/search_terms.h"

#include <algorithm>

namespace cairn::domain {
namespace {

bool IsJoiner(char c) { return c == '-' || c == '_' || c == '.' || c == '@' || c == '/'; }

bool IsTokenByte(char c) {
  const auto u = static_cast<unsigned char>(c);
  return u >= 0x80 || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         (c >= '0' && c <= '9') || IsJoiner(c);
}

// Lowercases ASCII, trims joiners from both ends and cuts at kMaxTermBytes without splitting
// a UTF-8 character.
std::string Normalize(std::string_view token) {
  while (!token.empty() && IsJoiner(token.front())) token.remove_prefix(1);
  while (!token.empty() && IsJoiner(token.back())) token.remove_suffix(1);
  if (token.size() > kMaxTermBytes) {
    size_t cut = kMaxTermBytes;
    while (cut > 0 && (static_cast<unsigned char>(token[cut]) & 0xC0) == 0x80) --cut;
    token = token.substr(0, cut);
  }
  std::string out(token);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

std::vector<std::string> Tokens(std::string_view text) {
  std::vector<std::string> tokens;
  size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && !IsTokenByte(text[i])) ++i;
    const size_t start = i;
    while (i < text.size() && IsTokenByte(text[i])) ++i;
    std::string token = Normalize(text.substr(start, i - start));
    if (!token.empty()) tokens.push_back(std::move(token));
  }
  return tokens;
}

}  // namespace

void AddIndexTerms(std::string_view text, std::vector<std::string>* terms) {
  for (std::string& token : Tokens(text)) {
    // The parts between joiners, when there are any, then the whole token.
    if (std::any_of(token.begin(), token.end(), IsJoiner)) {
      size_t start = 0;
      for (size_t i = 0; i <= token.size(); ++i) {
        if (i == token.size() || IsJoiner(token[i])) {
          if (i > start) terms->push_back(token.substr(start, i - start));
          start = i + 1;
        }
      }
    }
    terms->push_back(std::move(token));
  }
}

std::vector<std::string> QueryTerms(std::string_view query) { return Tokens(query); }

}  // namespace cairn::domain
