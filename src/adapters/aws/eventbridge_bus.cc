#include "adapters/aws/eventbridge_bus.h"

#include <set>

namespace memberflow::aws {
namespace {

Result<json::value> events(AwsClient& c, const std::string& op, const json::object& body) {
  return c.json("events", "AWSEvents." + op, body, "application/x-amz-json-1.1");
}

}  // namespace

Result<std::vector<Status>> EventBridgeBus::put(const std::vector<BusEntry>& entries) {
  std::vector<Status> out;
  out.reserve(entries.size());
  for (size_t i = 0; i < entries.size(); i += 10) {
    json::array batch;
    for (size_t j = i; j < std::min(entries.size(), i + 10); ++j) {
      batch.push_back(json::object{{"Source", entries[j].source},
                                   {"DetailType", entries[j].detailType},
                                   {"Detail", entries[j].detail},
                                   {"EventBusName", name_}});
    }
    auto r = events(client_, "PutEvents", json::object{{"Entries", batch}});
    if (!r.isOk()) return r.status();
    const json::value* results = field(r->as_object(), "Entries");
    for (size_t j = 0; j < batch.size(); ++j) {
      const json::object* e = results && results->is_array() && j < results->get_array().size() &&
                                      results->get_array()[j].is_object()
                                  ? &results->get_array()[j].get_object()
                                  : nullptr;
      auto code = e ? stringField(*e, "ErrorCode") : std::optional<std::string>("MissingResult");
      out.push_back(code ? Status::unavailable("eventbridge PutEvents: " + *code) : Status::ok());
    }
  }
  return out;
}

Status provisionEventBridge(AwsClient& client, const RoutingConfig& cfg,
                            const std::function<Result<std::string>(const std::string&)>& queueArn) {
  std::set<std::string> buses{"default"};
  for (const auto& r : cfg.rules) buses.insert(r.bus);
  for (const auto& t : cfg.targets) {
    if (t.kind == TargetConfig::Kind::kBus) buses.insert(t.bus);
  }
  std::map<std::string, std::string> busArn;
  for (const auto& b : buses) {
    if (b != "default") {
      auto c = events(client, "CreateEventBus", json::object{{"Name", b}});
      if (!c.isOk() && c.status().message().find("ResourceAlreadyExists") == std::string::npos) return c.status();
    }
    auto d = events(client, "DescribeEventBus", json::object{{"Name", b}});
    if (!d.isOk()) return d.status();
    busArn[b] = stringField(d->as_object(), "Arn").value_or("");
  }
  for (const auto& r : cfg.rules) {
    auto pr = events(client, "PutRule", json::object{{"Name", r.name}, {"EventBusName", r.bus},
                                                     {"EventPattern", json::serialize(r.pattern)},
                                                     {"State", "ENABLED"}});
    if (!pr.isOk()) return pr.status();
    json::array targets;
    for (const auto& tn : r.targets) {
      const TargetConfig* t = cfg.target(tn);
      json::object target{{"Id", tn}};
      if (t->kind == TargetConfig::Kind::kQueue) {
        auto arn = queueArn(t->queue);
        if (!arn.isOk()) return arn.status();
        target["Arn"] = *arn;
        // FIFO queues need a group id or EventBridge drops the events without a word.
        if (arn->size() > 5 && arn->compare(arn->size() - 5, 5, ".fifo") == 0) {
          target["SqsParameters"] = json::object{{"MessageGroupId", "memberflow"}};
        }
      } else if (t->kind == TargetConfig::Kind::kBus) {
        target["Arn"] = busArn.at(t->bus);
      } else {
        return Status::invalidArgument("rule " + r.name + ": webhook target " + tn +
                                       " needs EventBridge API destinations, not provisioned yet");
      }
      if (!r.inputPath.empty()) target["InputPath"] = r.inputPath;
      targets.push_back(std::move(target));
    }
    auto pt = events(client, "PutTargets", json::object{{"Rule", r.name}, {"EventBusName", r.bus}, {"Targets", targets}});
    if (!pt.isOk()) return pt.status();
  }
  return Status::ok();
}

}  // namespace memberflow::aws
