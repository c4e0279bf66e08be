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

json::object memberJson(const Member& m) {
  json::object o;
  o["memberId"] = m.memberId;
  o["name"] = json::object{{"first", m.name.first},
                           {"middle", orNull(m.name.middle)},
                           {"last", m.name.last},
                           {"suffix", orNull(m.name.suffix)}};
  o["birthDate"] = m.birthDate;
  o["gender"] = name(m.gender);
  o["contact"] =
      json::object{{"email", orNull(m.contact.email)}, {"phone", orNull(m.contact.phone)}};
  o["address"] = json::object{{"line1", orNull(m.address.line1)},
                              {"line2", orNull(m.address.line2)},
                              {"city", orNull(m.address.city)},
                              {"state", orNull(m.address.state)},
                              {"postalCode", orNull(m.address.postalCode)},
                              {"country", m.address.country}};
  o["coverage"] = json::object{{"planId", orNull(m.coverage.planId)},
                               {"groupNumber", orNull(m.coverage.groupNumber)},
                               {"subscriberId", orNull(m.coverage.subscriberId)},
                               {"relationship", orNull(m.coverage.relationship)},
                               {"startDate", orNull(m.coverage.startDate)},
                               {"endDate", orNull(m.coverage.endDate)}};
  o["status"] = name(m.status);
  return o;
}

void appendMemberJson(std::string& out, const Member& m) {
  // The keys in memberJson's order. Keys are appended as they are: none needs an escape.
  out += "{\"memberId\":";
  appendJsonString(out, m.memberId);
  out += ",\"name\":{\"first\":";
  appendJsonString(out, m.name.first);
  out += ",\"middle\":";
  appendJsonString(out, m.name.middle);
  out += ",\"last\":";
  appendJsonString(out, m.name.last);
  out += ",\"suffix\":";
  appendJsonString(out, m.name.suffix);
  out += "},\"birthDate\":";
  appendJsonString(out, m.birthDate);
  out += ",\"gender\":";
  appendJsonString(out, name(m.gender));
  out += ",\"contact\":{\"email\":";
  appendJsonString(out, m.contact.email);
  out += ",\"phone\":";
  appendJsonString(out, m.contact.phone);
  out += "},\"address\":{\"line1\":";
  appendJsonString(out, m.address.line1);
  out += ",\"line2\":";
  appendJsonString(out, m.address.line2);
  out += ",\"city\":";
  appendJsonString(out, m.address.city);
  out += ",\"state\":";
  appendJsonString(out, m.address.state);
  out += ",\"postalCode\":";
  appendJsonString(out, m.address.postalCode);
  out += ",\"country\":";
  appendJsonString(out, m.address.country);
  out += "},\"coverage\":{\"planId\":";
  appendJsonString(out, m.coverage.planId);
  out += ",\"groupNumber\":";
  appendJsonString(out, m.coverage.groupNumber);
  out += ",\"subscriberId\":";
  appendJsonString(out, m.coverage.subscriberId);
  out += ",\"relationship\":";
  appendJsonString(out, m.coverage.relationship);
  out += ",\"startDate\":";
  appendJsonString(out, m.coverage.startDate);
  out += ",\"endDate\":";
  appendJsonString(out, m.coverage.endDate);
  out += "},\"status\":";
  appendJsonString(out, name(m.status));
  out += '}';
}

void appendMemberJson(std::string& out, const std::optional<Member>& m) {
  if (m) {
    appendMemberJson(out, *m);
  } else {
    out += "null";
  }
}

std::string memberJsonText(const Member& m) {
  std::string out;
  out.reserve(512);
  appendMemberJson(out, m);
  return out;
}

json::object storedMemberJson(const StoredMember& s) {
  json::object o = memberJson(s.member);
  o["version"] = s.version;
  o["sourceSequence"] = s.sourceSequence;
  o["updatedAt"] = isoMillis(s.updatedAtMs);
  return o;
}

namespace {

// Reads a canonical object strictly: every key must be in `allowed`.
Status onlyKnown(const json::object& o, std::string_view where,
                 std::initializer_list<std::string_view> allowed) {
  for (const auto& kv : o) {
    if (std::find(allowed.begin(), allowed.end(), kv.key()) == allowed.end()) {
      return rejection("unknown_field",
                       std::string(where) + "." + std::string(kv.key()) + " is not a member field");
    }
  }
  return Status::ok();
}

Result<OptString> optString(const json::object& o, std::string_view where, std::string_view k) {
  const json::value* v = field(o, k);
  if (v == nullptr || v->is_null()) return OptString{};
  if (!v->is_string()) {
    return rejection("invalid_type", std::string(where) + std::string(k) + " must be a string");
  }
  return OptString{std::string(v->get_string())};
}

Result<const json::object*> subObject(const json::object& o, std::string_view k, bool required) {
  const json::value* v = field(o, k);
  if (v == nullptr || v->is_null()) {
    if (required) return rejection("missing_field", std::string(k) + " is required");
    return static_cast<const json::object*>(nullptr);
  }
  if (!v->is_object()) return rejection("invalid_type", std::string(k) + " must be an object");
  return &v->get_object();
}

}  // namespace

Result<Member> memberFromJson(const json::value& body, std::optional<std::string_view> pathId,
                              int64_t todayDays) {
  if (!body.is_object()) return rejection("invalid_type", "body must be a JSON object");
  const json::object& o = body.get_object();
  MF_RETURN_IF_ERROR(onlyKnown(o, "member",
                               {"memberId", "name", "birthDate", "gender", "contact", "address",
                                "coverage", "status", "version", "sourceSequence", "updatedAt"}));
  Member m;
  OptString id;
  MF_ASSIGN_OR_RETURN(id, optString(o, "", "memberId"));
  if (!id && pathId) id = std::string(*pathId);
  if (!id) return rejection("missing_field", "memberId is required");
  if (!rules::validMemberId(*id)) return rejection("invalid_member_id", "memberId is malformed");
  if (pathId && *id != *pathId) {
    return rejection("member_id_mismatch", "memberId in the body differs from the path");
  }
  m.memberId = *id;

  const json::object* name = nullptr;
  MF_ASSIGN_OR_RETURN(name, subObject(o, "name", true));
  MF_RETURN_IF_ERROR(onlyKnown(*name, "name", {"first", "middle", "last", "suffix"}));
  OptString first, last, middle, suffix;
  MF_ASSIGN_OR_RETURN(first, optString(*name, "name.", "first"));
  MF_ASSIGN_OR_RETURN(last, optString(*name, "name.", "last"));
  MF_ASSIGN_OR_RETURN(middle, optString(*name, "name.", "middle"));
  MF_ASSIGN_OR_RETURN(suffix, optString(*name, "name.", "suffix"));
  MF_ASSIGN_OR_RETURN(m.name.first, rules::personName("name.first", first.value_or("")));
  MF_ASSIGN_OR_RETURN(m.name.last, rules::personName("name.last", last.value_or("")));
  MF_ASSIGN_OR_RETURN(m.name.middle, rules::optionalText("name.middle", middle, 100));
  MF_ASSIGN_OR_RETURN(m.name.suffix, rules::optionalText("name.suffix", suffix, 100));

  OptString bd;
  MF_ASSIGN_OR_RETURN(bd, optString(o, "", "birthDate"));
  if (!bd) return rejection("missing_field", "birthDate is required");
  auto days = daysFromIsoDate(*bd);
  if (!days) return rejection("invalid_birth_date", "birthDate must be YYYY-MM-DD");
  MF_ASSIGN_OR_RETURN(m.birthDate, rules::birthDate(*days, todayDays));

  OptString gender;
  MF_ASSIGN_OR_RETURN(gender, optString(o, "", "gender"));
  auto g = gender ? genderNamed(*gender) : std::nullopt;
  if (!g) return rejection("invalid_gender", "gender must be male, female, unknown or other");
  m.gender = *g;

  const json::object* contact = nullptr;
  MF_ASSIGN_OR_RETURN(contact, subObject(o, "contact", false));
  if (contact) {
    MF_RETURN_IF_ERROR(onlyKnown(*contact, "contact", {"email", "phone"}));
    OptString e, p;
    MF_ASSIGN_OR_RETURN(e, optString(*contact, "contact.", "email"));
    MF_ASSIGN_OR_RETURN(p, optString(*contact, "contact.", "phone"));
    MF_ASSIGN_OR_RETURN(m.contact.email, rules::email(e));
    MF_ASSIGN_OR_RETURN(m.contact.phone, rules::phone(p));
  }

  const json::object* addr = nullptr;
  MF_ASSIGN_OR_RETURN(addr, subObject(o, "address", false));
  if (addr) {
    MF_RETURN_IF_ERROR(
        onlyKnown(*addr, "address", {"line1", "line2", "city", "state", "postalCode", "country"}));
    OptString l1, l2, city, st, pc, ctry;
    MF_ASSIGN_OR_RETURN(l1, optString(*addr, "address.", "line1"));
    MF_ASSIGN_OR_RETURN(l2, optString(*addr, "address.", "line2"));
    MF_ASSIGN_OR_RETURN(city, optString(*addr, "address.", "city"));
    MF_ASSIGN_OR_RETURN(st, optString(*addr, "address.", "state"));
    MF_ASSIGN_OR_RETURN(pc, optString(*addr, "address.", "postalCode"));
    MF_ASSIGN_OR_RETURN(ctry, optString(*addr, "address.", "country"));
    MF_ASSIGN_OR_RETURN(m.address.line1, rules::optionalText("address.line1", l1, 200));
    MF_ASSIGN_OR_RETURN(m.address.line2, rules::optionalText("address.line2", l2, 200));
    MF_ASSIGN_OR_RETURN(m.address.city, rules::optionalText("address.city", city, 200));
    MF_ASSIGN_OR_RETURN(m.address.state, rules::state(st));
    MF_ASSIGN_OR_RETURN(m.address.postalCode, rules::postalCode(pc));
    MF_ASSIGN_OR_RETURN(m.address.country, rules::country(ctry));
  }

  const json::object* cov = nullptr;
  MF_ASSIGN_OR_RETURN(cov, subObject(o, "coverage", false));
  if (cov) {
    MF_RETURN_IF_ERROR(onlyKnown(
        *cov, "coverage",
        {"planId", "groupNumber", "subscriberId", "relationship", "startDate", "endDate"}));
    OptString plan, grp, sub, rel, sd, ed;
    MF_ASSIGN_OR_RETURN(plan, optString(*cov, "coverage.", "planId"));
    MF_ASSIGN_OR_RETURN(grp, optString(*cov, "coverage.", "groupNumber"));
    MF_ASSIGN_OR_RETURN(sub, optString(*cov, "coverage.", "subscriberId"));
    MF_ASSIGN_OR_RETURN(rel, optString(*cov, "coverage.", "relationship"));
    MF_ASSIGN_OR_RETURN(sd, optString(*cov, "coverage.", "startDate"));
    MF_ASSIGN_OR_RETURN(ed, optString(*cov, "coverage.", "endDate"));
    MF_ASSIGN_OR_RETURN(m.coverage.planId, rules::optionalText("coverage.planId", plan, 64));
    MF_ASSIGN_OR_RETURN(m.coverage.groupNumber,
                        rules::optionalText("coverage.groupNumber", grp, 64));
    MF_ASSIGN_OR_RETURN(m.coverage.subscriberId,
                        rules::optionalText("coverage.subscriberId", sub, 64));
    MF_ASSIGN_OR_RETURN(m.coverage.relationship, rules::relationship(rel));
    for (auto* d : {&sd, &ed}) {
      if (*d && !daysFromIsoDate(**d)) {
        return rejection("invalid_coverage", "coverage dates must be YYYY-MM-DD");
      }
    }
    m.coverage.startDate = sd;
    m.coverage.endDate = ed;
    MF_RETURN_IF_ERROR(rules::coverageDates(sd, ed));
  }

  OptString status;
  MF_ASSIGN_OR_RETURN(status, optString(o, "", "status"));
  auto st = status ? memberStatusNamed(*status) : std::nullopt;
  if (!st) return rejection("invalid_status", "status must be active, inactive or terminated");
  m.status = *st;
  return m;
}

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
