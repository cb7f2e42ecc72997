// Unit tests of UUIDs in text form (src/base/uuid.h): the text round trip and what it refuses,
// and the time-ordered ids NewUuid makes.
#include <doctest/doctest.h>

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "base/uuid.h"

namespace cairn {
namespace {

using Bits = std::pair<uint64_t, uint64_t>;

TEST_CASE("a UUID's text form is lower-case hex with dashes at 8, 13, 18 and 23") {
  CHECK(UuidText(0x0123456789abcdef, 0xfedcba9876543210) ==
        "01234567-89ab-cdef-fedc-ba9876543210");
  CHECK(UuidText(0, 0) == "00000000-0000-0000-0000-000000000000");
  CHECK(UuidText(UINT64_MAX, UINT64_MAX) == "ffffffff-ffff-ffff-ffff-ffffffffffff");
}

TEST_CASE("a UUID's bits round-trip through its text form") {
  for (const Bits& bits : {Bits{0, 0}, Bits{0x0123456789abcdef, 0xfedcba9876543210},
                          Bits{UINT64_MAX, UINT64_MAX}, Bits{1, 0}, Bits{0, 1},
                          Bits{0x018f3a2b4c5d7e6f, 0x8a9bacbdcedfe0f1}}) {
    CAPTURE(bits.first);
    CAPTURE(bits.second);
    CHECK(ParseUuidText(UuidText(bits.first, bits.second)) == std::optional<Bits>(bits));
  }
  const std::string made = NewUuid();
  const std::optional<Bits> parsed = ParseUuidText(made);
  REQUIRE(parsed.has_value());
  CHECK(UuidText(parsed->first, parsed->second) == made);
}

TEST_CASE("ParseUuidText refuses upper case, misplaced dashes and any other length") {
  const std::string good = "01234567-89ab-cdef-fedc-ba9876543210";
  REQUIRE(ParseUuidText(good).has_value());
  const std::vector<std::string> bad = {
      "01234567-89AB-cdef-fedc-ba9876543210",  // upper case
      "0123456789ab-cdef-fedc-ba98-76543210",  // dashes in the wrong places
      "01234567089ab-cdef-fedc-ba9876543210",  // a digit where a dash belongs, a dash missing
      "01234567_89ab_cdef_fedc_ba9876543210",  // other separators
      "0123456789abcdeffedcba9876543210",      // no dashes (32 characters)
      "01234567-89ab-cdef-fedc-ba987654321",   // 35 characters
      "01234567-89ab-cdef-fedc-ba98765432100",  // 37 characters
      "{01234567-89ab-cdef-fedc-ba9876543210}",
      "01234567-89ab-cdef-fedc-ba987654321g",  // not hex
      "",
  };
  for (const std::string& text : bad) {
    CAPTURE(text);
    CHECK_FALSE(ParseUuidText(text).has_value());
  }
}

TEST_CASE("NewUuid makes version 7 UUIDs that sort in the order they were made") {
  // Keys made from them reach the memtables in order (cheap inserts); the order must hold
  // within one millisecond and across threads, not only across milliseconds.
  constexpr int kThreads = 4;
  constexpr int kPerThread = 5000;
  std::vector<std::vector<std::string>> made(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&made, t] {
      for (int i = 0; i < kPerThread; ++i) made[t].push_back(NewUuid());
    });
  }
  for (auto& th : threads) th.join();
  std::set<std::string> all;
  for (const auto& ids : made) {
    for (size_t i = 0; i < ids.size(); ++i) {
      const std::string& id = ids[i];
      REQUIRE(id.size() == 36);
      CHECK(id[14] == '7');                                  // version
      CHECK(std::string_view("89ab").find(id[19]) != std::string_view::npos);  // variant 10
      if (i > 0) CHECK(ids[i - 1] < id);                     // in order within a thread
      all.insert(id);
    }
  }
  CHECK(all.size() == size_t{kThreads} * kPerThread);  // unique
  // Across threads: an id made after another one finished sorts after it.
  const std::string before = NewUuid();
  std::string after;
  std::thread([&after] { after = NewUuid(); }).join();
  CHECK(before < after);
}

}  // namespace
}  // namespace cairn
