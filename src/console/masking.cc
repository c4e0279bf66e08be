#include "console/masking.h"

#include <set>
#include <string_view>

namespace memberflow::console {
namespace {

// Where a value sits decides what is kept:
enum class Scope {
  kEnvelope,  // a DLQ body, an archive line, an event: ids, coordinates, reasons are kept
  kRow,       // a member's row or representation (Debezium before/after, an event's member):
              // its id only, so that a column added to the source tomorrow is masked
  kSource,    // Debezium's source block: the connector's coordinates, not `query` (the SQL)
  kLineage,   // memberflow's lineage: coordinates only, kept whole
};

bool keptInEnvelope(std::string_view key) {
  static const std::set<std::string_view> kKeys{
      "memberId",   "member_id",      "messageId",       "id",
      "subject",    "reason",         "stage",           "code",
      "op",         "topic",          "partition",       "offset",
      "archiveKey", "archiveLine",    "ts_ms",           "tsMs",
      "time",       "type",           "specversion",     "source",
      "version",    "sourceSequence", "receiveCount",    "eventId",
      "redacted",   "sentAt",         "message",         "detail-type",
      "outcome",    "timestamp",      "datacontenttype", "dataschema"};
  return kKeys.count(key) > 0;
}

bool keptInSource(std::string_view key) {
  static const std::set<std::string_view> kKeys{
      "version", "connector", "name",   "ts_ms", "ts_us",     "ts_ns", "snapshot",
      "db",      "sequence",  "schema", "table", "txId",      "lsn",   "xmin",
      "file",    "pos",       "row",    "gtid",  "server_id", "thread"};
  return kKeys.count(key) > 0;
}

bool kept(Scope scope, std::string_view key) {
  switch (scope) {
    case Scope::kEnvelope: return keptInEnvelope(key);
    case Scope::kRow: return key == "member_id" || key == "memberId";
    case Scope::kSource: return keptInSource(key);
    case Scope::kLineage: return true;
  }
  return false;
}

// The scope of an object or array found under `key` in `scope`.
Scope inner(Scope scope, std::string_view key) {
  if (scope == Scope::kLineage) return scope;
  if (key == "lineage") return Scope::kLineage;
  if (scope == Scope::kRow) return Scope::kRow;
  if (key == "source") return Scope::kSource;
  if (key == "after" || key == "before" || key == "member") return Scope::kRow;
  return scope == Scope::kSource ? Scope::kRow : scope;  // nothing nests in source: mask it
}

json::value mask(const json::value& v, Scope scope);

json::value maskLeaf(const json::value& v, Scope scope, bool keep) {
  if (v.is_string()) {
    if (keep) return v;
    // A JSON document inside a string (a record's value): masked inside, shown as structure.
    const json::string& s = v.get_string();
    if (!s.empty() && (s.front() == '{' || s.front() == '[')) {
      auto parsed = parseJson(std::string_view(s.data(), s.size()));
      if (parsed.isOk()) return mask(*parsed, scope);
    }
    return kMask;
  }
  if (v.is_number()) return keep ? v : json::value(kMask);
  return v;  // null and booleans tell nothing about a person
}

json::value mask(const json::value& v, Scope scope) {
  if (v.is_object()) {
    json::object out;
    for (const auto& [k, x] : v.get_object()) {
      std::string_view name(k.data(), k.size());
      out[k] = x.is_object() || x.is_array() ? mask(x, inner(scope, name))
                                             : maskLeaf(x, scope, kept(scope, name));
    }
    return out;
  }
  if (v.is_array()) {
    json::array out;
    for (const auto& x : v.get_array())
      out.push_back(x.is_object() || x.is_array() ? mask(x, scope) : maskLeaf(x, scope, false));
    return out;
  }
  return maskLeaf(v, scope, false);
}

}  // namespace

json::value masked(const json::value& v) { return mask(v, Scope::kEnvelope); }

json::value maskedText(const std::string& text) {
  auto parsed = parseJson(text);
  if (!parsed.isOk()) return kMask;
  return masked(*parsed);
}

}  // namespace memberflow::console
