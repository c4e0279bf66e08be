#include "adapters/aws/lambda_events.h"

#include <algorithm>
#include <charconv>
#include <tuple>

#include "common/crypto.h"

namespace memberflow::aws {
namespace {

// A number, or a string of digits (the mappings have sent both for partition and offset).
std::optional<int64_t> integer(const json::object& o, std::string_view name) {
  if (auto v = intField(o, name)) return v;
  auto s = stringField(o, name);
  if (!s || s->empty()) return std::nullopt;
  int64_t v = 0;
  auto [end, ec] = std::from_chars(s->data(), s->data() + s->size(), v);
  if (ec != std::errc() || end != s->data() + s->size()) return std::nullopt;
  return v;
}

// Base64 bytes; absent or null: nullopt in *out. False when present and not base64.
bool bytesField(const json::object& o, std::string_view name, std::optional<std::string>* out) {
  const json::value* v = field(o, name);
  if (!v || v->is_null()) {
    out->reset();
    return true;
  }
  if (!v->is_string()) return false;
  auto d = crypto::base64Decode(std::string_view(v->get_string()));
  if (!d) return false;
  *out = std::move(*d);
  return true;
}

// [{"name": [104, 105]}, ...] (one name per object, the value as byte values).
bool headersField(const json::object& o, std::vector<std::pair<std::string, std::string>>* out) {
  const json::value* v = field(o, "headers");
  if (!v || v->is_null()) return true;
  if (!v->is_array()) return false;
  for (const auto& h : v->get_array()) {
    if (!h.is_object()) return false;
    for (const auto& kv : h.get_object()) {
      std::string value;
      if (kv.value().is_array()) {
        for (const auto& b : kv.value().get_array()) {
          // Byte values as the mappings send them: 0..255, or Java's signed -128..127.
          int64_t x = b.is_int64() ? b.get_int64() : b.is_uint64() ? int64_t(b.get_uint64()) : 999;
          if (x < -128 || x > 255) return false;
          value.push_back(static_cast<char>(static_cast<unsigned char>(x & 0xff)));
        }
      } else if (!kv.value().is_null()) {
        return false;
      }
      out->emplace_back(std::string(kv.key()), std::move(value));
    }
  }
  return true;
}

Status badRecord(const std::string& group, size_t index, const char* what) {
  return Status::invalidArgument("Kafka event: record " + std::to_string(index) + " of " +
                                 group.substr(0, 200) + ": " + what);
}

}  // namespace

Result<std::vector<SourceRecord>> parseKafkaEvent(const json::value& event) {
  const json::value* records = event.is_object() ? field(event.get_object(), "records") : nullptr;
  if (!records || !records->is_object())
    return Status::invalidArgument("not a Kafka event: no records object");
  std::vector<SourceRecord> out;
  for (const auto& group : records->get_object()) {
    std::string name(group.key());
    if (!group.value().is_array())
      return Status::invalidArgument("Kafka event: " + name.substr(0, 200) + " is no array");
    size_t i = 0;
    for (const auto& rv : group.value().get_array()) {
      if (!rv.is_object()) return badRecord(name, i, "not an object");
      const auto& r = rv.get_object();
      SourceRecord rec;
      auto topic = stringField(r, "topic");
      auto partition = integer(r, "partition");
      auto offset = integer(r, "offset");
      if (!topic || topic->empty()) return badRecord(name, i, "no topic");
      if (!partition || *partition < 0 || *partition > INT32_MAX)
        return badRecord(name, i, "no partition");
      if (!offset || *offset < 0) return badRecord(name, i, "no offset");
      rec.topic = *topic;
      rec.partition = static_cast<int32_t>(*partition);
      rec.offset = *offset;
      rec.timestampMs = integer(r, "timestamp").value_or(0);
      if (!bytesField(r, "key", &rec.key)) return badRecord(name, i, "key is not base64");
      if (!bytesField(r, "value", &rec.value)) return badRecord(name, i, "value is not base64");
      if (!headersField(r, &rec.headers))
        return badRecord(name, i, "headers are not arrays of byte values");
      out.push_back(std::move(rec));
      ++i;
    }
  }
  std::stable_sort(out.begin(), out.end(), [](const SourceRecord& a, const SourceRecord& b) {
    return std::tie(a.topic, a.partition, a.offset) < std::tie(b.topic, b.partition, b.offset);
  });
  return out;
}

std::string batchItemFailures(const std::vector<std::string>& messageIds) {
  json::array items;
  for (const auto& id : messageIds) items.push_back(json::object{{"itemIdentifier", id}});
  return toJson(json::object{{"batchItemFailures", std::move(items)}});
}

}  // namespace memberflow::aws
