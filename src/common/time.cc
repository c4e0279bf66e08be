#include "common/time.h"

#include <chrono>
#include <cstdio>

namespace memberflow {
namespace chr = std::chrono;

int64_t wallNowMs() {
  return chr::duration_cast<chr::milliseconds>(chr::system_clock::now().time_since_epoch()).count();
}

int64_t steadyNowUs() {
  return chr::duration_cast<chr::microseconds>(chr::steady_clock::now().time_since_epoch()).count();
}

static void civil(int64_t days, int& y, unsigned& m, unsigned& d) {
  chr::year_month_day ymd{chr::sys_days{chr::days{days}}};
  y = static_cast<int>(ymd.year());
  m = static_cast<unsigned>(ymd.month());
  d = static_cast<unsigned>(ymd.day());
}

std::string isoDateFromDays(int64_t days) {
  int y;
  unsigned m, d;
  civil(days, y, m, d);
  char buf[32];
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02u", y, m, d);
  return buf;
}

static int64_t floorDiv(int64_t a, int64_t b) {
  return a / b - ((a % b != 0) && ((a < 0) != (b < 0)));
}

std::string isoMillis(int64_t epochMs) {
  int64_t days = floorDiv(epochMs, 86400000);
  int64_t msOfDay = epochMs - days * 86400000;
  int y;
  unsigned m, d;
  civil(days, y, m, d);
  char buf[48];
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02d:%02d:%02d.%03dZ", y, m, d,
                static_cast<int>(msOfDay / 3600000), static_cast<int>(msOfDay / 60000 % 60),
                static_cast<int>(msOfDay / 1000 % 60), static_cast<int>(msOfDay % 1000));
  return buf;
}

std::string utcDate(int64_t epochMs) { return isoDateFromDays(floorDiv(epochMs, 86400000)); }

int utcHour(int64_t epochMs) {
  return static_cast<int>((epochMs - floorDiv(epochMs, 86400000) * 86400000) / 3600000);
}

static bool digits(std::string_view s, size_t pos, size_t n, int& out) {
  if (pos + n > s.size()) return false;
  out = 0;
  for (size_t i = pos; i < pos + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    out = out * 10 + (s[i] - '0');
  }
  return true;
}

std::optional<int64_t> daysFromIsoDate(std::string_view s) {
  int y, m, d;
  if (s.size() != 10 || s[4] != '-' || s[7] != '-') return std::nullopt;
  if (!digits(s, 0, 4, y) || !digits(s, 5, 2, m) || !digits(s, 8, 2, d)) return std::nullopt;
  chr::year_month_day ymd{chr::year{y}, chr::month{static_cast<unsigned>(m)},
                          chr::day{static_cast<unsigned>(d)}};
  if (!ymd.ok()) return std::nullopt;
  return chr::sys_days{ymd}.time_since_epoch().count();
}

std::optional<int64_t> epochMsFromIso(std::string_view s) {
  if (s.size() < 19) return std::nullopt;
  auto days = daysFromIsoDate(s.substr(0, 10));
  int hh, mm, ss;
  if (!days || s[10] != 'T' || s[13] != ':' || s[16] != ':' || !digits(s, 11, 2, hh) ||
      !digits(s, 14, 2, mm) || !digits(s, 17, 2, ss) || hh > 23 || mm > 59 || ss > 60) {
    return std::nullopt;
  }
  int64_t ms = *days * 86400000 + hh * 3600000LL + mm * 60000LL + ss * 1000LL;
  size_t pos = 19;
  if (pos < s.size() && s[pos] == '.') {
    ++pos;
    int64_t frac = 0;
    int n = 0;
    while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
      if (n < 3) frac = frac * 10 + (s[pos] - '0');
      ++n;
      ++pos;
    }
    if (n == 0) return std::nullopt;
    for (int i = n; i < 3; ++i) frac *= 10;
    ms += frac;
  }
  if (pos < s.size() && s[pos] == 'Z') ++pos;
  if (pos != s.size()) return std::nullopt;
  return ms;
}

}  // namespace memberflow
