#include "adapters/aws/eventbridge_bus.h"

#include <algorithm>
#include <set>

namespace memberflow::aws {
namespace {

Result<json::value> events(AwsClient& c, const std::string& op, const json::object& body) {
  return c.json("events", "AWSEvents." + op, body, "application/x-amz-json-1.1");
}

bool alreadyExists(const Status& s) {
  return s.reason().find("ResourceAlreadyExists") != std::string::npos;
}

// Creates the resource, or updates it when it exists (AWS refuses a second create; moto
// replaces), and returns the ARN field of the answer.
Result<std::string> createOrUpdate(AwsClient& c, const std::string& kind, const json::object& body,
                                   const char* arnField) {
  auto r = events(c, "Create" + kind, body);
  if (!r.isOk() && alreadyExists(r.status())) r = events(c, "Update" + kind, body);
  if (!r.isOk()) return r.status();
  if (!r->is_object()) return Status::internal("eventbridge " + kind + ": malformed response");
  auto arn = stringField(r->get_object(), arnField);
  if (!arn) return Status::internal("eventbridge " + kind + ": no " + arnField);
  return *arn;
}

// A webhook target as an EventBridge API destination: a connection that adds the target's
// auth header (its value from the Secrets port) and the destination that POSTs to the URL.
Result<json::object> webhookTarget(AwsClient& client, const TargetConfig& t,
                                   const ProvisionOptions& o) {
  if (o.eventsRoleArn.empty()) {
    return Status::invalidArgument(
        "webhook target " + t.name +
        ": aws.events_role_arn is not set (EventBridge assumes that role to "
        "invoke API destinations)");
  }
  std::string name = o.namePrefix + t.name;
  // EventBridge connections always authorize; a target without a secret sends its own name.
  std::string header = t.authSecret.empty() ? "x-memberflow-target" : t.authHeader;
  std::string value = t.name;
  if (!t.authSecret.empty()) {
    auto v = o.secret(t.authSecret);
    if (!v.isOk()) return v.status();
    value = *v;
  }
  auto connection = createOrUpdate(
      client, "Connection",
      json::object{{"Name", name},
                   {"AuthorizationType", "API_KEY"},
                   {"AuthParameters",
                    json::object{{"ApiKeyAuthParameters",
                                  json::object{{"ApiKeyName", header}, {"ApiKeyValue", value}}}}}},
      "ConnectionArn");
  if (!connection.isOk()) return connection.status();
  auto destination =
      createOrUpdate(client, "ApiDestination",
                     json::object{{"Name", name},
                                  {"ConnectionArn", *connection},
                                  {"InvocationEndpoint", t.url},
                                  {"HttpMethod", "POST"},
                                  {"InvocationRateLimitPerSecond", o.invocationRateLimit}},
                     "ApiDestinationArn");
  if (!destination.isOk()) return destination.status();
  // Undeliverable events go to a standard queue (EventBridge dead-letter queues cannot be FIFO)
  // with EventBridge's ERROR_CODE and ERROR_MESSAGE attributes as the reason.
  auto dlq = o.queueArn(name + "-webhook-dlq");
  if (!dlq.isOk()) return dlq.status();
  return json::object{
      {"Id", t.name},
      {"Arn", *destination},
      {"RoleArn", o.eventsRoleArn},
      {"RetryPolicy", json::object{{"MaximumRetryAttempts", std::max(0, t.maxAttempts - 1)},
                                   {"MaximumEventAgeInSeconds", 86400}}},
      {"DeadLetterConfig", json::object{{"Arn", *dlq}}}};
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
    if (!r->is_object()) return Status::internal("eventbridge PutEvents: malformed response");
    const json::value* results = field(r->get_object(), "Entries");
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
                            const ProvisionOptions& o) {
  std::set<std::string> buses{"default"};
  for (const auto& r : cfg.rules) buses.insert(r.bus);
  for (const auto& t : cfg.targets) {
    if (t.kind == TargetConfig::Kind::kBus) buses.insert(t.bus);
  }
  std::map<std::string, std::string> busArn;
  for (const auto& b : buses) {
    if (b != "default") {
      auto c = events(client, "CreateEventBus", json::object{{"Name", b}});
      if (!c.isOk() && c.status().reason().find("ResourceAlreadyExists") == std::string::npos)
        return c.status();
    }
    auto d = events(client, "DescribeEventBus", json::object{{"Name", b}});
    if (!d.isOk()) return d.status();
    if (!d->is_object())
      return Status::internal("eventbridge DescribeEventBus: malformed response");
    busArn[b] = stringField(d->get_object(), "Arn").value_or("");
  }
  for (const auto& r : cfg.rules) {
    auto pr = events(client, "PutRule",
                     json::object{{"Name", r.name},
                                  {"EventBusName", r.bus},
                                  {"EventPattern", json::serialize(r.pattern)},
                                  {"State", "ENABLED"}});
    if (!pr.isOk()) return pr.status();
    json::array targets;
    for (const auto& tn : r.targets) {
      const TargetConfig* t = cfg.target(tn);
      json::object target{{"Id", tn}};
      if (t->kind == TargetConfig::Kind::kQueue) {
        auto arn = o.queueArn(t->queue);
        if (!arn.isOk()) return arn.status();
        target["Arn"] = *arn;
        // FIFO queues need a group id or EventBridge drops the events without a word.
        if (arn->size() > 5 && arn->compare(arn->size() - 5, 5, ".fifo") == 0) {
          target["SqsParameters"] = json::object{{"MessageGroupId", "memberflow"}};
        }
      } else if (t->kind == TargetConfig::Kind::kBus) {
        target["Arn"] = busArn.at(t->bus);
      } else {
        auto w = webhookTarget(client, *t, o);
        if (!w.isOk()) return w.status();
        target = std::move(w).value();
      }
      if (!r.inputPath.empty()) target["InputPath"] = r.inputPath;
      targets.push_back(std::move(target));
    }
    auto pt = events(client, "PutTargets",
                     json::object{{"Rule", r.name}, {"EventBusName", r.bus}, {"Targets", targets}});
    if (!pt.isOk()) return pt.status();
  }
  return Status::ok();
}

}  // namespace memberflow::aws
