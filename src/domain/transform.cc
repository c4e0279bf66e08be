#include "domain/transform.h"

#include "common/time.h"

namespace memberflow {
namespace {

// A nullable string column; a non-string non-null value is a type error.
Result<OptString> col(const json::object& row, std::string_view name) {
  const json::value* v = field(row, name);
  if (v == nullptr || v->is_null()) return OptString{};
  if (!v->is_string()) {
    return rejection("invalid_type", std::string(name) + " must be a string or null");
  }
  return OptString{std::string(v->get_string())};
}

// A date column: int days since the epoch (io.debezium.time.Date) or "YYYY-MM-DD".
Result<std::optional<int64_t>> dateCol(const json::object& row, std::string_view name) {
  const json::value* v = field(row, name);
  if (v == nullptr || v->is_null()) return std::optional<int64_t>{};
  if (v->is_string()) {
    auto d = daysFromIsoDate(v->get_string());
    if (!d) return rejection("invalid_date", std::string(name) + " must be YYYY-MM-DD");
    return std::optional<int64_t>{*d};
  }
  if (auto n = intField(row, name)) {
    if (*n < -200000 || *n > 200000) {
      return rejection("invalid_date", std::string(name) + " is out of range");
    }
    return std::optional<int64_t>{*n};
  }
  return rejection("invalid_date", std::string(name) + " must be days or YYYY-MM-DD");
}

}  // namespace

Result<Member> memberFromRow(const json::object& row, int64_t todayDays) {
  Member m;
  OptString s;
  MF_ASSIGN_OR_RETURN(s, col(row, "member_id"));
  if (!s) return rejection("missing_member_id", "member_id is required");
  if (!rules::validMemberId(*s)) {
    return rejection("invalid_member_id", "member_id must match ^[A-Za-z0-9-]{1,64}$");
  }
  m.memberId = *s;

  MF_ASSIGN_OR_RETURN(s, col(row, "first_name"));
  MF_ASSIGN_OR_RETURN(m.name.first, rules::personName("first_name", s.value_or("")));
  MF_ASSIGN_OR_RETURN(s, col(row, "last_name"));
  MF_ASSIGN_OR_RETURN(m.name.last, rules::personName("last_name", s.value_or("")));
  MF_ASSIGN_OR_RETURN(s, col(row, "middle_name"));
  MF_ASSIGN_OR_RETURN(m.name.middle, rules::optionalText("middle_name", s, 100));
  MF_ASSIGN_OR_RETURN(s, col(row, "suffix"));
  MF_ASSIGN_OR_RETURN(m.name.suffix, rules::optionalText("suffix", s, 100));

  std::optional<int64_t> days;
  MF_ASSIGN_OR_RETURN(days, dateCol(row, "birth_date"));
  if (!days) return rejection("missing_field", "birth_date is required");
  MF_ASSIGN_OR_RETURN(m.birthDate, rules::birthDate(*days, todayDays));

  MF_ASSIGN_OR_RETURN(s, col(row, "gender"));
  std::string g = rules::trim(s.value_or(""));
  if (g == "M")
    m.gender = Gender::kMale;
  else if (g == "F")
    m.gender = Gender::kFemale;
  else if (g == "U")
    m.gender = Gender::kUnknown;
  else if (g == "X")
    m.gender = Gender::kOther;
  else
    return rejection("invalid_gender", "gender must be M, F, U or X");

  MF_ASSIGN_OR_RETURN(s, col(row, "email"));
  MF_ASSIGN_OR_RETURN(m.contact.email, rules::email(s));
  MF_ASSIGN_OR_RETURN(s, col(row, "phone"));
  MF_ASSIGN_OR_RETURN(m.contact.phone, rules::phone(s));

  MF_ASSIGN_OR_RETURN(s, col(row, "address_line1"));
  MF_ASSIGN_OR_RETURN(m.address.line1, rules::optionalText("address_line1", s, 200));
  MF_ASSIGN_OR_RETURN(s, col(row, "address_line2"));
  MF_ASSIGN_OR_RETURN(m.address.line2, rules::optionalText("address_line2", s, 200));
  MF_ASSIGN_OR_RETURN(s, col(row, "city"));
  MF_ASSIGN_OR_RETURN(m.address.city, rules::optionalText("city", s, 200));
  MF_ASSIGN_OR_RETURN(s, col(row, "state"));
  MF_ASSIGN_OR_RETURN(m.address.state, rules::state(s));
  MF_ASSIGN_OR_RETURN(s, col(row, "postal_code"));
  MF_ASSIGN_OR_RETURN(m.address.postalCode, rules::postalCode(s));
  MF_ASSIGN_OR_RETURN(s, col(row, "country"));
  MF_ASSIGN_OR_RETURN(m.address.country, rules::country(s));

  MF_ASSIGN_OR_RETURN(s, col(row, "plan_id"));
  MF_ASSIGN_OR_RETURN(m.coverage.planId, rules::optionalText("plan_id", s, 64));
  MF_ASSIGN_OR_RETURN(s, col(row, "group_number"));
  MF_ASSIGN_OR_RETURN(m.coverage.groupNumber, rules::optionalText("group_number", s, 64));
  MF_ASSIGN_OR_RETURN(s, col(row, "subscriber_id"));
  MF_ASSIGN_OR_RETURN(m.coverage.subscriberId, rules::optionalText("subscriber_id", s, 64));
  MF_ASSIGN_OR_RETURN(s, col(row, "relationship"));
  MF_ASSIGN_OR_RETURN(m.coverage.relationship, rules::relationship(s));
  std::optional<int64_t> start, end;
  MF_ASSIGN_OR_RETURN(start, dateCol(row, "coverage_start"));
  MF_ASSIGN_OR_RETURN(end, dateCol(row, "coverage_end"));
  if (start) m.coverage.startDate = isoDateFromDays(*start);
  if (end) m.coverage.endDate = isoDateFromDays(*end);
  MF_RETURN_IF_ERROR(rules::coverageDates(m.coverage.startDate, m.coverage.endDate));

  MF_ASSIGN_OR_RETURN(s, col(row, "status"));
  std::string st = rules::trim(s.value_or(""));
  if (st == "A")
    m.status = MemberStatus::kActive;
  else if (st == "I")
    m.status = MemberStatus::kInactive;
  else if (st == "T")
    m.status = MemberStatus::kTerminated;
  else
    return rejection("invalid_status", "status must be A, I or T");

  // updated_at is bookkeeping of the source row, not content; only its type is checked.
  if (const json::value* u = field(row, "updated_at");
      u && !u->is_null() && !intField(row, "updated_at")) {
    return rejection("invalid_type", "updated_at must be epoch milliseconds");
  }
  return m;
}

Result<ChangeCommand> toCommand(const DecodedChange& d, const Lineage& lineage,
                                int64_t receivedAtMs, int64_t todayDays) {
  MF_RETURN_IF_ERROR(d.status);
  ChangeCommand c;
  c.messageId = d.messageId;
  c.memberId = d.memberId;
  c.sourceSequence = d.sourceSequence;
  c.lineage = lineage;
  c.receivedAtMs = receivedAtMs;
  c.sourceTsMs = d.sourceTsMs;
  switch (d.op) {
    case ChangeOp::kCreate:
    case ChangeOp::kUpdate:
    case ChangeOp::kRead: {
      c.op = ChangeCommand::Op::kUpsert;
      MF_ASSIGN_OR_RETURN(c.member, memberFromRow(*d.after, todayDays));
      break;
    }
    case ChangeOp::kDelete: c.op = ChangeCommand::Op::kDelete; break;
    case ChangeOp::kTombstone: return Status::internal("a tombstone has no command");
  }
  return c;
}

}  // namespace memberflow
