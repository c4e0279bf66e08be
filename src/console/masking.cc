#include "console/masking.h"

#include <set>
#include <string_view>

namespace memberflow::console {
namespace {

// Values kept as they are: identifiers and coordinates, never a member's personal data.
bool keptLeaf(std::string_view key) {
  static const std::set<std::string_view> kKeys{
      "memberId",    "member_id",      "messageId",    "id",
      "subject",     "reason",         "stage",        "code",
      "op",          "topic",          "partition",    "offset",
      "archiveKey",  "archiveLine",    "ts_ms",        "tsMs",
      "time",        "type",           "specversion",  "source",
      "version",     "sourceSequence", "receiveCount", "eventId",
      "lsn",         "redacted",       "sentAt",       "message",
      "detail-type", "outcome",        "timestamp",    "datacontenttype",
      "dataschema"};
  return kKeys.count(key) > 0;
}

// Objects whose whole content is pipeline metadata: Debezium's `source` block, the lineage.
bool keptTree(std::string_view key) { return key == "source" || key == "lineage"; }

json::value mask(const json::value& v, std::string_view key, bool keep);

json::value maskString(const json::string& s, std::string_view key, bool keep) {
  if (keep) return s;
  // A JSON document inside a string (a record's value): masked inside, shown as structure.
  if (!s.empty() && (s.front() == '{' || s.front() == '[')) {
    auto parsed = parseJson(std::string_view(s.data(), s.size()));
    if (parsed.isOk()) return mask(*parsed, key, false);
  }
  return kMask;
}

json::value mask(const json::value& v, std::string_view key, bool keep) {
  switch (v.kind()) {
    case json::kind::object: {
      json::object out;
      for (const auto& [k, x] : v.get_object()) {
        std::string_view name(k.data(), k.size());
        bool tree = keep || keptTree(name);
        bool leaf = tree || keptLeaf(name);
        out[k] = x.is_object() || x.is_array() ? mask(x, name, tree) : mask(x, name, leaf);
      }
      return out;
    }
    case json::kind::array: {
      json::array out;
      for (const auto& x : v.get_array()) out.push_back(mask(x, key, keep));
      return out;
    }
    case json::kind::string: return maskString(v.get_string(), key, keep);
    case json::kind::int64:
    case json::kind::uint64:
    case json::kind::double_: return keep ? v : json::value(kMask);
    default:  // null and booleans tell nothing about a person
      return v;
  }
}

}  // namespace

json::value masked(const json::value& v) { return mask(v, "", false); }

json::value maskedText(const std::string& text) {
  auto parsed = parseJson(text);
  if (!parsed.isOk()) return kMask;
  return masked(*parsed);
}

}  // namespace memberflow::console
