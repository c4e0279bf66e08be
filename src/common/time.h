// File: time.h
// Date and time formatting used by the data contracts (UTC everywhere).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace memberflow {

int64_t wallNowMs();
int64_t steadyNowUs();

// "2026-11-24T13:29:16.853Z"
std::string isoMillis(int64_t epochMs);
// "YYYY-MM-DD" of a count of days since 1970-01-01.
std::string isoDateFromDays(int64_t days);
// Days since 1970-01-01 of a strict "YYYY-MM-DD" that names a real calendar date.
std::optional<int64_t> daysFromIsoDate(std::string_view s);
// UTC date and hour of an epoch-ms instant.
std::string utcDate(int64_t epochMs);
int utcHour(int64_t epochMs);
// Parses "2026-11-24T13:29:16.853Z" (fraction and Z optional); nullopt when malformed.
std::optional<int64_t> epochMsFromIso(std::string_view s);

}  // namespace memberflow
