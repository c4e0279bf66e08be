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

}  // namespace memberflow
