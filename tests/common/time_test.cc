// Dates and instants: ISO dates from days and back, RFC 3339 milliseconds.
#include "common/time.h"

#include <gtest/gtest.h>

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

}  // namespace
}  // namespace memberflow
