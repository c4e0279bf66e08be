#include "cli/produce_line.h"

#include <cstdint>

namespace memberflow::cli {

std::optional<std::string> jsonToBytes(const json::value& v) {
  if (v.is_null()) return std::nullopt;
  if (v.is_string()) return std::string(v.get_string());
  return json::serialize(v);
}

Result<ProduceRecord> parseProduceLine(const std::string& line) {
  auto v = parseJson(line);
  if (!v.isOk() || !v->is_object()) return Status::invalidArgument("not a JSON object");
  const json::object& o = v->get_object();
  for (const auto& kv : o) {
    if (kv.key() != "key" && kv.key() != "value" && kv.key() != "headers" &&
        kv.key() != "partition" && kv.key() != "timestamp") {
      return Status::invalidArgument("unknown field " + std::string(kv.key()));
    }
  }
  ProduceRecord r;
  if (const json::value* k = field(o, "key")) r.key = jsonToBytes(*k);
  const json::value* val = field(o, "value");
  if (val == nullptr) return Status::invalidArgument("missing value (use null for a tombstone)");
  r.value = jsonToBytes(*val);
  if (const json::value* h = field(o, "headers"); h && !h->is_null()) {
    if (!h->is_object()) return Status::invalidArgument("headers must be an object");
    for (const auto& kv : h->get_object()) {
      if (!kv.value().is_string()) return Status::invalidArgument("header values must be strings");
      r.headers.emplace_back(kv.key(), kv.value().get_string());
    }
  }
  if (const json::value* p = field(o, "partition"); p && !p->is_null()) {
    auto n = intField(o, "partition");
    if (!n || *n < 0 || *n > INT32_MAX)
      return Status::invalidArgument("partition must be an integer");
    r.partition = static_cast<int32_t>(*n);
  }
  if (const json::value* t = field(o, "timestamp"); t && !t->is_null()) {
    // Like partition: a timestamp that cannot be used is refused, not replaced by "now".
    auto ts = intField(o, "timestamp");
    if (!ts)
      return Status::invalidArgument("timestamp must be an integer (milliseconds since the epoch)");
    r.timestampMs = *ts;
  }
  return r;
}

}  // namespace memberflow::cli
