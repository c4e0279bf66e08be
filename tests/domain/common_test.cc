// Common building blocks: dates, encodings, gzip, the Kafka partitioner.
#include <gtest/gtest.h>

#include "adapters/embedded/source_log.h"
#include "common/crypto.h"
#include "common/gzip.h"
#include "common/time.h"
#include "common/backoff.h"

namespace memberflow {
namespace {

TEST(Time, IsoDatesAndInstants) {
  EXPECT_EQ(isoDateFromDays(0), "1970-01-01");
  EXPECT_EQ(isoDateFromDays(7335), "1990-01-31");
  EXPECT_EQ(daysFromIsoDate("1990-01-31"), 7335);
  EXPECT_EQ(daysFromIsoDate("2024-02-29"), 19782);
  EXPECT_FALSE(daysFromIsoDate("2023-02-29"));
  EXPECT_FALSE(daysFromIsoDate("1990-1-31"));
  EXPECT_EQ(isoMillis(1795008556853), "2026-11-18T13:29:16.853Z");
  EXPECT_EQ(epochMsFromIso("2026-11-18T13:29:16.853Z"), 1795008556853);
  EXPECT_EQ(epochMsFromIso("2026-11-18T13:29:16Z"), 1795008556000);
  EXPECT_FALSE(epochMsFromIso("2026-11-18 13:29:16"));
  EXPECT_EQ(utcHour(1795008556853), 13);
}

TEST(Crypto, Base64AndSha256) {
  EXPECT_EQ(crypto::sha256Hex("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  for (const std::string& s : std::vector<std::string>{"", "f", "fo", "foo", "foob", "fooba", "foobar", std::string("\xff\x00\x01", 3)}) {
    EXPECT_EQ(crypto::base64Decode(crypto::base64Encode(s)), s);
    EXPECT_EQ(crypto::base64UrlDecode(crypto::base64UrlEncode(s)), s);
  }
  EXPECT_EQ(crypto::base64Encode("foobar"), "Zm9vYmFy");
  EXPECT_FALSE(crypto::base64UrlDecode("a+b/"));
  // Strict: one encoding per value (no padding, no whitespace, unused bits zero).
  EXPECT_EQ(crypto::base64UrlDecode("Zg"), "f");
  EXPECT_FALSE(crypto::base64UrlDecode("Zh"));
  EXPECT_FALSE(crypto::base64UrlDecode("Zg=="));
  EXPECT_FALSE(crypto::base64UrlDecode(" Zg"));
  EXPECT_FALSE(crypto::base64UrlDecode("Zm9vY"));
}

TEST(Gzip, RoundTripsAndConcatenatedMembers) {
  std::string a = *gzipCompress("hello\n"), b = *gzipCompress("world\n");
  EXPECT_EQ(*gzipDecompress(a + b), "hello\nworld\n");
  EXPECT_FALSE(gzipDecompress("not gzip").isOk());
}

TEST(Partitioner, MatchesKafkaMurmur2) {
  // Values from Kafka's UtilsTest.testMurmur2.
  EXPECT_EQ(embedded::kafkaMurmur2("21"), -973932308);
  EXPECT_EQ(embedded::kafkaMurmur2("foobar"), -790332482);
  EXPECT_EQ(embedded::kafkaMurmur2("a-little-bit-long-string"), -985981536);
  EXPECT_EQ(embedded::kafkaMurmur2("a-little-bit-longer-string"), -1486304829);
  EXPECT_EQ(embedded::kafkaMurmur2("lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8"), -58897971);
  EXPECT_EQ(embedded::kafkaMurmur2(std::string("abc", 3)), 479470107);
}

TEST(Backoff, FullJitterStaysUnderTheExponentialCeiling) {
  BackoffPolicy p{100, 1000, 5};
  std::mt19937_64 rng(1);
  int64_t maxSeen = 0;
  for (int i = 0; i < 1000; ++i) {
    EXPECT_LE(fullJitterDelayMs(p, 1, rng), 100);
    EXPECT_LE(fullJitterDelayMs(p, 3, rng), 400);
    int64_t d = fullJitterDelayMs(p, 20, rng);
    EXPECT_LE(d, 1000);
    maxSeen = std::max(maxSeen, d);
  }
  EXPECT_GT(maxSeen, 500);  // jitter spans the range
}

}  // namespace
}  // namespace memberflow
