#include "domain/member.h"

#include <algorithm>
#include <cctype>

#include "common/time.h"

namespace memberflow {

Status rejection(std::string_view code, std::string_view message) {
  return Status::invalidArgument(std::string(message)).withReason(std::string(code));
}

std::string_view name(Gender g) {
  switch (g) {
    case Gender::kMale: return "male";
    case Gender::kFemale: return "female";
    case Gender::kUnknown: return "unknown";
    case Gender::kOther: return "other";
  }
  return "unknown";
}

std::string_view name(MemberStatus s) {
  switch (s) {
    case MemberStatus::kActive: return "active";
    case MemberStatus::kInactive: return "inactive";
    case MemberStatus::kTerminated: return "terminated";
  }
  return "active";
}

std::optional<Gender> genderNamed(std::string_view n) {
  for (Gender g : {Gender::kMale, Gender::kFemale, Gender::kUnknown, Gender::kOther}) {
    if (name(g) == n) return g;
  }
  return std::nullopt;
}

std::optional<MemberStatus> memberStatusNamed(std::string_view n) {
  for (MemberStatus s :
       {MemberStatus::kActive, MemberStatus::kInactive, MemberStatus::kTerminated}) {
    if (name(s) == n) return s;
  }
  return std::nullopt;
}

std::string reasonCode(const Status& s) {
  if (!s.reason().empty()) return s.reason();
  std::string code = codeName(s.code());
  for (char& c : code) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return code;
}

std::string describe(const Status& s) {
  return s.reason().empty() ? s.message() : s.reason() + ": " + s.message();
}

namespace rules {

bool validMemberId(std::string_view id) {
  if (id.empty() || id.size() > 64) return false;
  return std::all_of(id.begin(), id.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-';
  });
}

std::string trim(std::string_view s) {
  size_t b = 0, e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
  return std::string(s.substr(b, e - b));
}

std::optional<size_t> utf8Length(std::string_view s) {
  size_t n = 0;
  for (size_t i = 0; i < s.size();) {
    auto c = static_cast<unsigned char>(s[i]);
    size_t len = c < 0x80           ? 1
                 : (c >> 5) == 0x6  ? 2
                 : (c >> 4) == 0xe  ? 3
                 : (c >> 3) == 0x1e ? 4
                                    : 0;
    if (len == 0 || i + len > s.size()) return std::nullopt;
    for (size_t k = 1; k < len; ++k) {
      if ((static_cast<unsigned char>(s[i + k]) >> 6) != 0x2) return std::nullopt;
    }
    i += len;
    ++n;
  }
  return n;
}

static bool hasControl(std::string_view s) {
  return std::any_of(s.begin(), s.end(), [](char c) {
    auto u = static_cast<unsigned char>(c);
    return u < 0x20 || u == 0x7f;
  });
}

Result<std::string> personName(std::string_view field, std::string_view raw) {
  std::string t = trim(raw);
  auto len = utf8Length(t);
  if (!len) return rejection("invalid_encoding", std::string(field) + " is not valid UTF-8");
  if (*len == 0) return rejection("missing_field", std::string(field) + " is required");
  if (*len > 100) return rejection("too_long", std::string(field) + " exceeds 100 characters");
  if (hasControl(t)) {
    return rejection("invalid_characters", std::string(field) + " has control characters");
  }
  return t;
}

Result<OptString> optionalText(std::string_view field, const OptString& raw, size_t maxChars) {
  if (!raw) return OptString{};
  std::string t = trim(*raw);
  auto len = utf8Length(t);
  if (!len) return rejection("invalid_encoding", std::string(field) + " is not valid UTF-8");
  if (*len > maxChars) {
    return rejection("too_long",
                     std::string(field) + " exceeds " + std::to_string(maxChars) + " characters");
  }
  if (hasControl(t)) {
    return rejection("invalid_characters", std::string(field) + " has control characters");
  }
  if (t.empty()) return OptString{};
  return OptString{std::move(t)};
}

Result<std::string> birthDate(int64_t days, int64_t todayDays) {
  static const int64_t k1900 = *daysFromIsoDate("1900-01-01");
  if (days < k1900) return rejection("invalid_birth_date", "birth_date is before 1900");
  if (days > todayDays) return rejection("invalid_birth_date", "birth_date is in the future");
  return isoDateFromDays(days);
}

Result<OptString> email(const OptString& raw) {
  if (!raw) return OptString{};
  std::string t = trim(*raw);
  auto at = t.find('@');
  if (at == std::string::npos || at == 0 || at + 1 >= t.size() ||
      t.find('@', at + 1) != std::string::npos || hasControl(t) || t.size() > 254) {
    return rejection("invalid_email", "email must contain one @ with text on both sides");
  }
  return OptString{std::move(t)};
}

Result<OptString> phone(const OptString& raw) {
  if (!raw) return OptString{};
  std::string t = trim(*raw);
  std::string digitsOnly;
  for (char c : t) {
    if (std::isdigit(static_cast<unsigned char>(c))) {
      digitsOnly.push_back(c);
    } else if (c != ' ' && c != '+' && c != '-' && c != '(' && c != ')') {
      return rejection("invalid_phone", "phone may hold only digits, spaces and + - ( )");
    }
  }
  if (t.size() > 40) return rejection("invalid_phone", "phone exceeds 40 characters");
  if (digitsOnly.empty()) return rejection("invalid_phone", "phone has no digits");
  if (digitsOnly.size() == 10) return OptString{"+1" + digitsOnly};
  if (digitsOnly.size() == 11 && digitsOnly[0] == '1') return OptString{"+" + digitsOnly};
  return OptString{std::move(t)};
}

Result<OptString> state(const OptString& raw) {
  if (!raw) return OptString{};
  std::string t = trim(*raw);
  if (t.size() != 2 || !std::isalpha(static_cast<unsigned char>(t[0])) ||
      !std::isalpha(static_cast<unsigned char>(t[1]))) {
    return rejection("invalid_state", "state must be 2 letters");
  }
  for (char& c : t) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return OptString{std::move(t)};
}

Result<OptString> postalCode(const OptString& raw) {
  if (!raw) return OptString{};
  std::string t = trim(*raw);
  auto isd = [](char c) { return std::isdigit(static_cast<unsigned char>(c)) != 0; };
  bool ok = (t.size() == 5 && std::all_of(t.begin(), t.end(), isd)) ||
            (t.size() == 10 && t[5] == '-' && std::all_of(t.begin(), t.begin() + 5, isd) &&
             std::all_of(t.begin() + 6, t.end(), isd));
  if (!ok) return rejection("invalid_postal_code", "postal_code must be NNNNN or NNNNN-NNNN");
  return OptString{std::move(t)};
}

bool isoCountry(std::string_view c) {
  // ISO 3166-1 alpha-2 officially assigned codes.
  static constexpr std::string_view kCodes =
      "AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ "
      "BR BS BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM "
      "DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS "
      "GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN "
      "KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ "
      "MR MS MT MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM "
      "PN PR PS PT PW PY QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV "
      "SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI "
      "VN VU WF WS YE YT ZA ZM ZW";
  if (c.size() != 2) return false;
  for (size_t i = 0; i + 1 < kCodes.size(); i += 3) {
    if (kCodes.substr(i, 2) == c) return true;
  }
  return false;
}

Result<std::string> country(const OptString& raw) {
  if (!raw) return std::string("US");
  std::string t = trim(*raw);
  if (t.empty()) return std::string("US");
  for (char& c : t) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  if (!isoCountry(t)) return rejection("invalid_country", "country must be ISO 3166-1 alpha-2");
  return t;
}

Result<OptString> relationship(const OptString& raw) {
  if (!raw) return OptString{};
  std::string t = trim(*raw);
  if (t == "self" || t == "spouse" || t == "child" || t == "other") return OptString{t};
  return rejection("invalid_relationship", "relationship must be self, spouse, child or other");
}

Status coverageDates(const OptString& start, const OptString& end) {
  if (start && end && *end < *start) {
    return rejection("invalid_coverage", "coverage_end is before coverage_start");
  }
  return Status::ok();
}

}  // namespace rules

std::vector<std::string> changedFields(const Member* before, const Member* after) {
  static const Member kEmpty{};
  const Member& a = before ? *before : kEmpty;
  const Member& b = after ? *after : kEmpty;
  bool all = before == nullptr || after == nullptr;
  std::vector<std::string> out;
  auto cmp = [&](const char* path, const auto& x, const auto& y) {
    if (all || !(x == y)) out.emplace_back(path);
  };
  cmp("name.first", a.name.first, b.name.first);
  cmp("name.middle", a.name.middle, b.name.middle);
  cmp("name.last", a.name.last, b.name.last);
  cmp("name.suffix", a.name.suffix, b.name.suffix);
  cmp("birthDate", a.birthDate, b.birthDate);
  cmp("gender", a.gender, b.gender);
  cmp("contact.email", a.contact.email, b.contact.email);
  cmp("contact.phone", a.contact.phone, b.contact.phone);
  cmp("address.line1", a.address.line1, b.address.line1);
  cmp("address.line2", a.address.line2, b.address.line2);
  cmp("address.city", a.address.city, b.address.city);
  cmp("address.state", a.address.state, b.address.state);
  cmp("address.postalCode", a.address.postalCode, b.address.postalCode);
  cmp("address.country", a.address.country, b.address.country);
  cmp("coverage.planId", a.coverage.planId, b.coverage.planId);
  cmp("coverage.groupNumber", a.coverage.groupNumber, b.coverage.groupNumber);
  cmp("coverage.subscriberId", a.coverage.subscriberId, b.coverage.subscriberId);
  cmp("coverage.relationship", a.coverage.relationship, b.coverage.relationship);
  cmp("coverage.startDate", a.coverage.startDate, b.coverage.startDate);
  cmp("coverage.endDate", a.coverage.endDate, b.coverage.endDate);
  cmp("status", a.status, b.status);
  return out;
}

}  // namespace memberflow
