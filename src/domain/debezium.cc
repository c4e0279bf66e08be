#include "domain/debezium.h"

#include <utility>

#include "common/crypto.h"
#include "domain/member.h"

namespace memberflow {

const char* changeOpName(ChangeOp op) {
  switch (op) {
    case ChangeOp::kCreate: return "c";
    case ChangeOp::kUpdate: return "u";
    case ChangeOp::kDelete: return "d";
    case ChangeOp::kRead: return "r";
    case ChangeOp::kTombstone: return "tombstone";
  }
  return "?";
}

const json::value& unwrapPayload(const json::value& v) {
  if (v.is_object()) {
    const auto& o = v.get_object();
    auto p = o.find("payload");
    if (p != o.end() && o.contains("schema")) return p->value();
  }
  return v;
}

json::value& unwrapPayload(json::value& v) {
  return const_cast<json::value&>(unwrapPayload(std::as_const(v)));  // v itself is not const
}

std::string messageIdFor(const SourceRecord& r, const json::object* source) {
  for (const char* name : {"id", "ce_id"}) {
    for (const auto& [k, v] : r.headers) {
      if (k == name && !v.empty()) return v;
    }
  }
  if (source != nullptr) {
    auto lsn = intField(*source, "lsn");
    auto name = stringField(*source, "name");
    if (lsn && name) return *name + ":" + std::to_string(*lsn);
  }
  std::string material = r.key.value_or("");
  material.push_back('\0');
  material += r.value.value_or("");
  return crypto::sha256Hex(material);
}

namespace {

// Member id from the key: {"member_id": "..."} with the optional wrapper, or a bare string.
std::optional<std::string> memberIdFromKey(const SourceRecord& r) {
  if (!r.key) return std::nullopt;
  auto parsed = parseJson(*r.key);
  if (!parsed.isOk()) return std::nullopt;
  const json::value& k = unwrapPayload(*parsed);
  if (k.is_string()) return std::string(k.get_string());
  if (k.is_object()) return stringField(k.get_object(), "member_id");
  return std::nullopt;
}

}  // namespace

DecodedChange decodeChange(const SourceRecord& r, const DecodeOptions& opts) {
  DecodedChange d;
  // The key names the member even when the value cannot be decoded: DLQ entries keep it.
  auto keyId = memberIdFromKey(r);
  if (keyId && rules::validMemberId(*keyId)) d.memberId = *keyId;
  if (!r.value) {
    d.messageId = messageIdFor(r, nullptr);
    d.op = ChangeOp::kTombstone;
    return d;
  }
  if (r.value->size() > opts.maxValueBytes) {
    d.messageId = messageIdFor(r, nullptr);
    d.status = rejection("oversized", "value of " + std::to_string(r.value->size()) +
                                          " bytes exceeds the limit of " +
                                          std::to_string(opts.maxValueBytes));
    return d;
  }
  auto parsed = parseJson(*r.value);
  if (!parsed.isOk()) {
    d.messageId = messageIdFor(r, nullptr);
    d.status = rejection("malformed_json", parsed.status().message());
    return d;
  }
  // The parsed document is this function's own: the rows are moved out of it below.
  json::value& env = unwrapPayload(*parsed);
  if (!env.is_object()) {
    d.messageId = messageIdFor(r, nullptr);
    d.status = rejection("not_an_envelope", "value is not a Debezium envelope object");
    return d;
  }
  json::object& e = env.get_object();
  const json::value* src = field(e, "source");
  const json::object* source = (src && src->is_object()) ? &src->get_object() : nullptr;
  d.messageId = messageIdFor(r, source);

  auto op = stringField(e, "op");
  if (!op) {
    d.status = rejection("missing_op", "envelope has no op");
    return d;
  }
  if (*op == "c")
    d.op = ChangeOp::kCreate;
  else if (*op == "u")
    d.op = ChangeOp::kUpdate;
  else if (*op == "d")
    d.op = ChangeOp::kDelete;
  else if (*op == "r")
    d.op = ChangeOp::kRead;
  else {
    d.status = rejection("unsupported_op", "op must be c, u, d or r");
    return d;
  }
  if (source == nullptr) {
    d.status = rejection("missing_source", "envelope has no source block");
    return d;
  }
  d.sourceTsMs = intField(*source, "ts_ms").value_or(0);
  if (auto lsn = intField(*source, "lsn")) {
    d.sourceSequence = *lsn;
  } else if (auto ts = intField(*source, "ts_ms")) {
    d.sourceSequence = *ts;
  } else {
    d.status = rejection("missing_source_position", "source has neither lsn nor ts_ms");
    return d;
  }
  for (auto [name, slot] : {std::pair{"before", &d.before}, std::pair{"after", &d.after}}) {
    json::value* row = e.if_contains(name);
    if (row == nullptr || row->is_null()) continue;
    if (!row->is_object()) {
      d.status = rejection("invalid_row", std::string(name) + " is not an object");
      return d;
    }
    // Moved, not copied (a copy was a third of decoding's time): the document is on the
    // default storage (parseJson), and nothing reads the rows from it after this.
    *slot = std::move(row->get_object());
  }
  bool needsAfter = d.op != ChangeOp::kDelete;
  if (needsAfter && !d.after) {
    d.status = rejection("missing_row", "op " + *op + " has no after row");
    return d;
  }
  if (!needsAfter && !d.before && !r.key) {
    d.status = rejection("missing_row", "delete has neither a before row nor a key");
    return d;
  }
  const json::object* row = d.after ? &*d.after : (d.before ? &*d.before : nullptr);
  std::optional<std::string> rowId = row ? stringField(*row, "member_id") : std::nullopt;
  if (keyId && rowId && *keyId != *rowId) {
    d.status = rejection("key_mismatch", "key member_id differs from the row's member_id");
    return d;
  }
  std::optional<std::string> id = rowId ? rowId : keyId;
  if (!id) {
    d.status = rejection("missing_member_id", "neither the row nor the key has member_id");
    return d;
  }
  if (!rules::validMemberId(*id)) {
    d.status = rejection("invalid_member_id", "member_id must match ^[A-Za-z0-9-]{1,64}$");
    return d;
  }
  d.memberId = *id;
  return d;
}

std::string messageIdOf(const SourceRecord& r, const DecodeOptions& opts) {
  // The same steps as decodeChange's up to its messageIdFor call.
  if (!r.value || r.value->size() > opts.maxValueBytes) return messageIdFor(r, nullptr);
  auto parsed = parseJson(*r.value);
  if (!parsed.isOk()) return messageIdFor(r, nullptr);
  const json::value& env = unwrapPayload(*parsed);
  if (!env.is_object()) return messageIdFor(r, nullptr);
  const json::value* src = field(env.get_object(), "source");
  return messageIdFor(r, (src && src->is_object()) ? &src->get_object() : nullptr);
}

}  // namespace memberflow
