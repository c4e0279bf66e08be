// gzip round trips, concatenated members and garbage input.
#include "common/gzip.h"

#include <gtest/gtest.h>

namespace memberflow {
namespace {

TEST(Gzip, RoundTripsAndConcatenatedMembers) {
  std::string a = *gzipCompress("hello\n"), b = *gzipCompress("world\n");
  EXPECT_EQ(*gzipDecompress(a + b), "hello\nworld\n");
  EXPECT_FALSE(gzipDecompress("not gzip").isOk());
}

}  // namespace
}  // namespace memberflow
