#include "domain/member_event.h"

#include "common/time.h"

namespace memberflow {

json::object cloudEvent(const MemberEvent& e) {
  json::array changed;
  for (const auto& f : e.changedFields) changed.emplace_back(f);
  json::object data{{"member", e.after ? json::value(memberJson(*e.after)) : json::value(nullptr)},
                    {"version", e.version},
                    {"sourceSequence", e.sourceSequence},
                    {"changedFields", std::move(changed)},
                    {"lineage", e.lineage}};
  return json::object{{"specversion", "1.0"},
                      {"id", e.id},
                      {"source", "memberflow/member-api"},
                      {"type", e.type},
                      {"subject", e.memberId},
                      {"time", isoMillis(e.timeMs)},
                      {"datacontenttype", "application/json"},
                      {"data", std::move(data)}};
}

std::string cloudEventJson(const MemberEvent& e, std::string_view lineageJson) {
  std::string out;
  out.reserve(1024);
  out += "{\"specversion\":\"1.0\",\"id\":";
  appendJsonString(out, e.id);
  out += ",\"source\":\"memberflow/member-api\",\"type\":";
  appendJsonString(out, e.type);
  out += ",\"subject\":";
  appendJsonString(out, e.memberId);
  out += ",\"time\":";
  appendJsonString(out, isoMillis(e.timeMs));
  out += ",\"datacontenttype\":\"application/json\",\"data\":{\"member\":";
  appendMemberJson(out, e.after);
  out += ",\"version\":";
  out += std::to_string(e.version);
  out += ",\"sourceSequence\":";
  out += std::to_string(e.sourceSequence);
  out += ",\"changedFields\":[";
  for (size_t i = 0; i < e.changedFields.size(); ++i) {
    if (i) out += ',';
    appendJsonString(out, e.changedFields[i]);
  }
  out += "],\"lineage\":";
  out += lineageJson;
  out += "}}";
  return out;
}

}  // namespace memberflow
