// Kafka-compatible partitioning: Murmur2, PartitionForKey and StreamKey.
//
// Murmur2 must give exactly the numbers Kafka's Java client gives, or a key would land in a
// different partition than it does in Kafka. Checked against:
//  - Kafka's own vectors (clients/.../common/utils/UtilsTest.java, testMurmur2);
//  - librdkafka's Java-compatibility vectors (src/rdmurmur2.c, unittest_murmur2);
//  - when built with librdkafka (CAIRN_HAVE_RDKAFKA), its murmur2 partitioner on random keys.
#include <doctest/doctest.h>

#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "cairn/log.h"

#ifdef CAIRN_HAVE_RDKAFKA
#include <librdkafka/rdkafka.h>
#endif

namespace cairn {
namespace {

struct HashVector {
  std::string_view key;
  int32_t hash;
};

// Kafka UtilsTest.testMurmur2: Utils.murmur2(bytes) as a Java int.
constexpr HashVector kKafkaVectors[] = {
    {"21", -973932308},
    {"foobar", -790332482},
    {"a-little-bit-long-string", -985981536},
    {"a-little-bit-longer-string", -1486304829},
    {"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58897971},
    {"abc", 479470107},
};

// librdkafka rdmurmur2.c unittest_murmur2 (its "java_murmur2_results"), as int32.
constexpr HashVector kRdkafkaVectors[] = {
    {"kafka", static_cast<int32_t>(0xd067cf64u)},
    {"giberish123456789", static_cast<int32_t>(0x8f552b0cu)},
    {"1234", static_cast<int32_t>(0x9fc97b14u)},
    {"234", static_cast<int32_t>(0xe7c009cau)},
    {"34", static_cast<int32_t>(0x873930dau)},
    {"4", static_cast<int32_t>(0x5a4b5ca1u)},
    {"PreAmbleWillBeRemoved,ThePrePartThatIs", static_cast<int32_t>(0x78424f1cu)},
    {"reAmbleWillBeRemoved,ThePrePartThatIs", static_cast<int32_t>(0x4a62b377u)},
    {"eAmbleWillBeRemoved,ThePrePartThatIs", static_cast<int32_t>(0xe0e4e09eu)},
    {"AmbleWillBeRemoved,ThePrePartThatIs", static_cast<int32_t>(0x62b8b43fu)},
    {"", static_cast<int32_t>(0x106e08d9u)},  // 275646681
};

// Kafka's Utils.toPositive(murmur2(key)) % n, written out independently of the code under test.
uint32_t ExpectedPartition(int32_t hash, uint32_t n) {
  return (static_cast<uint32_t>(hash) & 0x7fffffffu) % n;
}

TEST_CASE("Murmur2 matches Kafka's UtilsTest.testMurmur2 vectors") {
  for (const auto& v : kKafkaVectors) {
    INFO("key = \"", std::string(v.key), "\"");
    CHECK(Murmur2(v.key) == v.hash);
  }
}

TEST_CASE("Murmur2 matches librdkafka's Java-compatibility vectors") {
  for (const auto& v : kRdkafkaVectors) {
    INFO("key = \"", std::string(v.key), "\"");
    CHECK(Murmur2(v.key) == v.hash);
  }
}

TEST_CASE("Murmur2 hashes bytes, not a C string") {
  // Embedded NULs count, and nothing past the view is read.
  const std::string with_nul("ab\0cd", 5);
  CHECK(Murmur2(with_nul) != Murmur2("ab"));
  const std::string longer = "foobarXYZ";
  CHECK(Murmur2(std::string_view(longer).substr(0, 6)) == -790332482);
  // Same bytes at every alignment give the same hash (each tail length 0..3 is covered).
  const std::string key = "lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8";
  for (size_t shift = 0; shift < 8; ++shift) {
    std::vector<char> buf(key.size() + shift);
    std::memcpy(buf.data() + shift, key.data(), key.size());
    INFO("shift = ", shift);
    CHECK(Murmur2(std::string_view(buf.data() + shift, key.size())) == -58897971);
  }
}

TEST_CASE("Murmur2 treats bytes >= 0x80 as unsigned, like Kafka") {
  // Kafka's vectors are all ASCII. These were computed with an independent reference
  // implementation that passes Kafka's vectors, and agree with librdkafka 2.0.2's partitioner;
  // each covers a tail of 1, 2, 3 or 0 bytes with the high bit set (a signed-char bug shows here).
  const HashVector non_ascii[] = {
      {std::string_view("\xff", 1), -311467685},
      {std::string_view("\xff\xfe", 2), 1717632651},
      {std::string_view("\xff\xfe\x80", 3), -160726397},
      {std::string_view("\x80\x81\x82\x83", 4), 1420557722},
      {"M\xc3\xbcller-\xce\xa9", 710110674},               // "Müller-Ω" in UTF-8
      {"order-\xc3\xbc" "6415\xe2\x82\xac", -1937732695},  // "order-ü6415€" in UTF-8
      {"\x80\x81\x82\x83\x84\x85\x86\x87\x88\x89\x8a\x8b\x8c", -2144995048},
  };
  for (const auto& v : non_ascii) {
    INFO("key length = ", v.key.size());
    CHECK(Murmur2(v.key) == v.hash);
  }
}

TEST_CASE("PartitionForKey is (murmur2 & 0x7fffffff) % N") {
  const uint32_t counts[] = {1, 2, 3, 7, 8, 10, 12, 50, 64, 100, 4096};
  for (const auto& v : kKafkaVectors) {
    for (uint32_t n : counts) {
      INFO("key = \"", std::string(v.key), "\", partitions = ", n);
      const uint32_t p = PartitionForKey(v.key, n).value();
      CHECK(p == ExpectedPartition(v.hash, n));
      CHECK(p < n);
    }
  }
  // Literal values (computed by hand), so a shared mistake in ExpectedPartition is caught too.
  CHECK(PartitionForKey("foobar", 50).value() == 16u);
  CHECK(PartitionForKey("foobar", 8).value() == 6u);
  CHECK(PartitionForKey("a-little-bit-longer-string", 12).value() == 11u);
  CHECK(PartitionForKey("abc", 64).value() == 27u);
  CHECK(PartitionForKey("", 12).value() == 9u);
  // The sign bit is masked off, not abs()'d: abs(-973932308) % 10 would be 8.
  CHECK(PartitionForKey("21", 10).value() == 0u);
  CHECK(PartitionForKey("21", 4096).value() == 2284u);
  // One partition: always 0.
  CHECK(PartitionForKey("anything", 1).value() == 0u);
  // A huge partition count leaves the positive hash itself.
  CHECK(PartitionForKey("foobar", 0x80000000u).value() == 1357151166u);
}

TEST_CASE("PartitionForKey is stable and in range for many keys") {
  for (uint32_t n = 1; n <= 64; ++n) {
    for (int i = 0; i < 200; ++i) {
      const std::string key = "order-" + std::to_string(i * 7919);
      const uint32_t p = PartitionForKey(key, n).value();
      REQUIRE(p < n);
      REQUIRE(p == PartitionForKey(key, n).value());
      REQUIRE(p == ExpectedPartition(Murmur2(key), n));
    }
  }
}

TEST_CASE("StreamKey takes what follows the first dash") {
  CHECK(std::string(StreamKey("order-6415")) == "6415");
  CHECK(std::string(StreamKey("order-a-b")) == "a-b");
  CHECK(std::string(StreamKey("nodash")) == "nodash");
  CHECK(std::string(StreamKey("-x")) == "x");
  CHECK(std::string(StreamKey("order-")) == "");
  CHECK(std::string(StreamKey("")) == "");
  CHECK(std::string(StreamKey("order--x")) == "-x");

  // It is a view into the argument, not a copy.
  const std::string stream = "order-6415";
  const std::string_view key = StreamKey(stream);
  CHECK(key.data() == stream.data() + 6);
  CHECK(key.size() == 4u);
}

TEST_CASE("a stream's partition is PartitionForKey of its StreamKey") {
  // What Kafka does with the seed's events keyed by aggregate id: "order-6415" has key "6415".
  const std::string stream = "order-6415";
  CHECK(PartitionForKey(StreamKey(stream), 8) == PartitionForKey("6415", 8));
  CHECK(PartitionForKey(StreamKey("nodash"), 12) == PartitionForKey("nodash", 12));
}

#ifdef CAIRN_HAVE_RDKAFKA

std::string Hex(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : bytes) {
    out += kDigits[c >> 4];
    out += kDigits[c & 0xf];
  }
  return out;
}

// rd_kafka_msg_partitioner_murmur2 is `(rd_murmur2(key, keylen) & 0x7fffffff) % partition_cnt`;
// it never touches rkt or the opaques, so nullptr is fine. It must get a non-null key.
int32_t RdkafkaPartition(std::string_view key, int32_t partition_cnt) {
  static const char kEmpty[1] = {0};
  const void* p = key.data() != nullptr ? static_cast<const void*>(key.data()) : kEmpty;
  return rd_kafka_msg_partitioner_murmur2(nullptr, p, key.size(), partition_cnt, nullptr,
                                          nullptr);
}

TEST_CASE("librdkafka agrees on the published vectors") {
  for (const auto& v : kKafkaVectors) {
    for (int32_t n = 1; n <= 64; ++n) {
      INFO("key = \"", std::string(v.key), "\", partitions = ", n);
      CHECK(RdkafkaPartition(v.key, n) ==
            static_cast<int32_t>(ExpectedPartition(v.hash, static_cast<uint32_t>(n))));
    }
  }
}

TEST_CASE("PartitionForKey agrees with librdkafka's murmur2 partitioner on random keys") {
  constexpr uint32_t kSeed = 0xCA1F2026u;
  constexpr int kKeys = 6000;
  INFO("seed = ", kSeed);
  std::mt19937 rng(kSeed);
  std::uniform_int_distribution<int> len_dist(0, 64);
  std::uniform_int_distribution<int> byte_dist(0, 255);

  int mismatches = 0;
  int non_ascii_keys = 0;
  std::vector<int> lengths_seen(65, 0);
  // A buffer with slack so keys also start at unaligned addresses (librdkafka has separate
  // aligned and unaligned loops).
  std::vector<char> buf(64 + 8);
  for (int i = 0; i < kKeys; ++i) {
    const int len = len_dist(rng);
    const size_t shift = static_cast<size_t>(i % 4);
    bool non_ascii = false;
    for (int j = 0; j < len; ++j) {
      const int b = byte_dist(rng);
      non_ascii = non_ascii || b >= 0x80;
      buf[shift + static_cast<size_t>(j)] = static_cast<char>(static_cast<unsigned char>(b));
    }
    non_ascii_keys += non_ascii ? 1 : 0;
    ++lengths_seen[static_cast<size_t>(len)];
    const std::string_view key(buf.data() + shift, static_cast<size_t>(len));

    // The full 31-bit hash: with partition_cnt = INT32_MAX the modulo only folds 0x7fffffff.
    const uint32_t positive = static_cast<uint32_t>(Murmur2(key)) & 0x7fffffffu;
    const int32_t rd_full = RdkafkaPartition(key, INT32_MAX);
    if (static_cast<uint32_t>(rd_full) != positive % 0x7fffffffu) {
      if (++mismatches <= 10) {
        FAIL_CHECK("hash mismatch for key #", i, " = 0x", Hex(key), " (len ", len,
                   "): cairn ", positive, ", librdkafka ", rd_full);
      }
    }
    for (int32_t n = 1; n <= 64; ++n) {
      const uint32_t ours = PartitionForKey(key, static_cast<uint32_t>(n)).value();
      const int32_t theirs = RdkafkaPartition(key, n);
      if (static_cast<int32_t>(ours) != theirs) {
        if (++mismatches <= 10) {
          FAIL_CHECK("partition mismatch for key #", i, " = 0x", Hex(key), " (len ", len,
                     "), partitions ", n, ": cairn ", ours, ", librdkafka ", theirs);
        }
      }
    }
  }
  CHECK(mismatches == 0);
  // The sample really covered what it claims to.
  CHECK(non_ascii_keys > kKeys / 2);
  for (size_t len = 0; len <= 64; ++len) {
    INFO("length ", len);
    CHECK(lengths_seen[len] > 0);
  }
}

#endif  // CAIRN_HAVE_RDKAFKA

}  // namespace
}  // namespace cairn
