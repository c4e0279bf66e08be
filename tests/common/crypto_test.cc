// SHA-256 and the strict base64 / base64url codecs.
#include "common/crypto.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace memberflow {
namespace {

TEST(Crypto, Base64AndSha256) {
  EXPECT_EQ(crypto::sha256Hex("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  for (const std::string& s : std::vector<std::string>{"", "f", "fo", "foo", "foob", "fooba",
                                                       "foobar", std::string("\xff\x00\x01", 3)}) {
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

}  // namespace
}  // namespace memberflow
