// File: member_json.cc
// The canonical member as JSON (DESIGN.md §3.3): memberJson and its direct writer, which must
// give the same bytes, and the strict reader memberFromJson that the API's bodies, queued
// commands and stored members go through. The field rules it applies are in member.cc.
#include <algorithm>

#include "common/time.h"
#include "domain/member.h"

namespace memberflow {

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

}  // namespace memberflow
