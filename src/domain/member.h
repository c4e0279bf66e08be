// File: member.h
// The canonical member (DESIGN.md §3.3) and the validation rules of §3.1, shared by the
// Debezium transform and the Member API so that both accept exactly the same members.
// Pure functions, no I/O. Error messages name fields and rules, never field values: they end
// up in logs and DLQs, and member content is protected health information.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/json.h"
#include "common/status.h"

namespace memberflow {

using OptString = std::optional<std::string>;

struct MemberName {
  std::string first;
  OptString middle;
  std::string last;
  OptString suffix;
  bool operator==(const MemberName&) const = default;
};

struct MemberContact {
  OptString email;
  OptString phone;  // E.164 when it had 10 or 11 digits, else as given (trimmed)
  bool operator==(const MemberContact&) const = default;
};

struct MemberAddress {
  OptString line1, line2, city;
  OptString state;       // two upper-case letters
  OptString postalCode;  // NNNNN or NNNNN-NNNN
  std::string country = "US";
  bool operator==(const MemberAddress&) const = default;
};

struct MemberCoverage {
  OptString planId, groupNumber, subscriberId;
  OptString relationship;        // self | spouse | child | other
  OptString startDate, endDate;  // YYYY-MM-DD
  bool operator==(const MemberCoverage&) const = default;
};

// FHIR administrative-gender (the source's M, F, U, X).
enum class Gender { kMale, kFemale, kUnknown, kOther };
// The source's A, I, T.
enum class MemberStatus { kActive, kInactive, kTerminated };
// The canonical names ("female", "terminated"), used in JSON only.
std::string_view name(Gender g);
std::string_view name(MemberStatus s);
std::optional<Gender> genderNamed(std::string_view name);
std::optional<MemberStatus> memberStatusNamed(std::string_view name);

// The content of a member: what a change can change. Equality is content equality.
struct Member {
  std::string memberId;
  MemberName name;
  std::string birthDate;  // YYYY-MM-DD
  Gender gender = Gender::kUnknown;
  MemberContact contact;
  MemberAddress address;
  MemberCoverage coverage;
  MemberStatus status = MemberStatus::kActive;
  bool operator==(const Member&) const = default;
};

// A member as stored: content plus bookkeeping. A deleted member is a tombstone that keeps
// its version and source sequence so that late, older changes cannot resurrect it.
struct StoredMember {
  Member member;
  int64_t version = 0;         // applied changes; the ETag
  int64_t sourceSequence = 0;  // highest source position accepted
  int64_t updatedAtMs = 0;     // when the last change was applied
  bool deleted = false;
};

// An InvalidArgument status with a stable reason code (Status::reason) and a message for
// humans. The message names fields and rules, never values.
Status rejection(std::string_view code, std::string_view message);
// The reason code of a status: its reason, or for a status without one its code's name in
// lower case ("unavailable"), so that every failure has a code to record.
std::string reasonCode(const Status& s);
// "<reason>: <message>" (the message alone without a reason): the detail shown to API clients.
std::string describe(const Status& s);

// Canonical JSON (§3.3). memberJson carries content only; storedMemberJson adds version,
// sourceSequence and updatedAt.
json::object memberJson(const Member& m);
json::object storedMemberJson(const StoredMember& s);
// json::serialize(memberJson(m)), the same bytes, written directly: a write's body, its event,
// the queued command and sync's requests each carry the member of every change.
void appendMemberJson(std::string& out, const Member& m);
// null for an empty optional (a delete's member).
void appendMemberJson(std::string& out, const std::optional<Member>& m);
std::string memberJsonText(const Member& m);

// Parses a canonical member from an API body. Strict: unknown fields are rejected; the
// read-only fields version, sourceSequence and updatedAt are accepted and ignored so that a
// GET response can be PUT back. pathId, when given, must equal memberId (or fill it when
// absent). todayDays bounds birth dates.
Result<Member> memberFromJson(const json::value& body, std::optional<std::string_view> pathId,
                              int64_t todayDays);

// Dotted paths of the content fields that differ ("name.first", "contact.email", ...).
// A missing side counts as all fields changed.
std::vector<std::string> changedFields(const Member* before, const Member* after);

// ---- field rules of §3.1, used by both parsers ----------------------------------------
namespace rules {
bool validMemberId(std::string_view id);
// Trims ASCII white space.
std::string trim(std::string_view s);
// Number of Unicode code points, or nullopt when s is not valid UTF-8.
std::optional<size_t> utf8Length(std::string_view s);
// Each returns the canonical value or a rejection naming the field.
Result<std::string> personName(std::string_view field, std::string_view raw);
Result<OptString> optionalText(std::string_view field, const OptString& raw, size_t maxChars);
Result<std::string> birthDate(int64_t days, int64_t todayDays);
Result<OptString> email(const OptString& raw);
Result<OptString> phone(const OptString& raw);
Result<OptString> state(const OptString& raw);
Result<OptString> postalCode(const OptString& raw);
Result<std::string> country(const OptString& raw);
Result<OptString> relationship(const OptString& raw);
Status coverageDates(const OptString& start, const OptString& end);
bool isoCountry(std::string_view upper2);
}  // namespace rules

}  // namespace memberflow
