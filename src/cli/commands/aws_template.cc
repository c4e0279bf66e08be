// `memberflow aws template [--rules FILE]`: the EventBridge part of deploy/template.yaml,
// generated from the rules file the binary reads (bus.rules_file), so that the rules deployed
// by CloudFormation cannot drift from the rules the embedded bus applies.
//
// It prints CloudFormation resources as YAML, indented to sit under `Resources:` between the
// template's marker comments (scripts/check-template regenerates them and fails on a
// difference). The resources are those `memberflow aws provision` creates through the API
// (eventbridge_bus.cc), with the same names:
//   - one AWS::Events::EventBus per bus other than "default" that a rule or a bus target names;
//   - one AWS::Events::Rule per rule: EventPattern = the rule's pattern, its targets;
//   - queue targets: the SQS queue named by the target (FIFO with content-based deduplication
//     when it ends in .fifo, and then SqsParameters.MessageGroupId, without which EventBridge
//     drops FIFO deliveries), with a queue policy bound to the rules by aws:SourceArn;
//   - webhook targets: a Connection (API_KEY, the header value resolved from Secrets Manager
//     by the target's authSecret, never written into the template), an API destination
//     "<NamePrefix><target>", the target's maxAttempts as the retry policy, and a standard
//     dead-letter queue "<NamePrefix><target>-webhook-dlq" with its alarm;
//   - bus targets: the other bus's ARN and a role EventBridge assumes.
// The fragment refers to three things the template defines around it: the parameter
// NamePrefix (aws.name_prefix), the KMS key QueueKey (SQS encryption) and the SNS topic
// AlarmTopic (alarm actions).
#include <charconv>
#include <cmath>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>
#include <set>
#include <sstream>

#include "cli/command_support.h"
#include "cli/commands.h"
#include "common/json.h"
#include "domain/routing.h"

namespace memberflow::cli {
namespace {

// ---- a small YAML emitter for JSON values (block style, every string double-quoted) ----------

// A key written plain: letters, digits, '_', '-' and ':' (Fn::GetAtt), starting with a letter,
// and none of the words YAML 1.1 reads as a boolean or null.
bool plainKey(std::string_view k) {
  if (k.empty() || !std::isalpha(static_cast<unsigned char>(k[0])) || k.back() == ':') return false;
  for (char c : k) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '-' && c != ':')
      return false;
  }
  std::string lower;
  for (char c : k) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  static const std::set<std::string> kReserved = {"y",  "n",   "yes",   "no",  "true",
                                                  "on", "off", "false", "null"};
  return kReserved.count(lower) == 0;
}

std::string yamlKey(std::string_view k) {
  return plainKey(k) ? std::string(k) : json::serialize(json::string(k));
}

// A double that YAML 1.1 (PyYAML, cfn-lint, checkov) reads back as a float: a '.' in the
// mantissa and a signed exponent.
std::string yamlDouble(double d) {
  if (!std::isfinite(d)) return "0.0";  // JSON has no such numbers
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, d);
  std::string s(buf, ec == std::errc() ? end : buf);
  size_t e = s.find('e');
  std::string mantissa = s.substr(0, e);
  std::string exponent = e == std::string::npos ? "" : s.substr(e + 1);
  if (mantissa.find('.') == std::string::npos) mantissa += ".0";
  if (!exponent.empty() && exponent[0] != '-' && exponent[0] != '+') exponent = "+" + exponent;
  return exponent.empty() ? mantissa : mantissa + "e" + exponent;
}

bool isScalar(const json::value& v) {
  return !(v.is_object() && !v.get_object().empty()) && !(v.is_array() && !v.get_array().empty());
}

std::string yamlScalar(const json::value& v) {
  if (v.is_object()) return "{}";
  if (v.is_array()) return "[]";
  if (v.is_double()) return yamlDouble(v.get_double());
  return json::serialize(v);  // strings double-quoted (JSON escapes are YAML escapes), numbers
}

void emitValue(std::ostream& out, const json::value& v, int indent);

// A mapping whose first line is already indented (after "- " of a sequence) when `inlineFirst`.
void emitMapping(std::ostream& out, const json::object& o, int indent, bool inlineFirst) {
  bool first = true;
  for (const auto& kv : o) {
    if (!(first && inlineFirst)) out << std::string(static_cast<size_t>(indent), ' ');
    first = false;
    out << yamlKey(kv.key()) << ":";
    if (isScalar(kv.value())) {
      out << " " << yamlScalar(kv.value()) << "\n";
    } else {
      out << "\n";
      emitValue(out, kv.value(), indent + 2);
    }
  }
}

void emitValue(std::ostream& out, const json::value& v, int indent) {
  if (v.is_object()) {
    emitMapping(out, v.get_object(), indent, false);
    return;
  }
  for (const auto& item : v.get_array()) {
    out << std::string(static_cast<size_t>(indent), ' ') << "-";
    if (isScalar(item)) {
      out << " " << yamlScalar(item) << "\n";
    } else if (item.is_object()) {
      out << " ";
      emitMapping(out, item.get_object(), indent + 2, true);
    } else {
      out << "\n";
      emitValue(out, item, indent + 2);
    }
  }
}

// ---- CloudFormation building blocks ---------------------------------------------------------

json::object cfnRef(const std::string& logicalId) { return json::object{{"Ref", logicalId}}; }
json::object arnOf(const std::string& logicalId) {
  return json::object{{"Fn::GetAtt", json::array{logicalId, "Arn"}}};
}
json::object sub(const std::string& text) { return json::object{{"Fn::Sub", text}}; }

bool isFifo(const std::string& queueName) {
  return queueName.size() > 5 && queueName.compare(queueName.size() - 5, 5, ".fifo") == 0;
}

// "crm-iowa_changes.v2" -> "CrmIowaChangesV2": logical ids are alphanumeric.
std::string pascal(const std::string& name) {
  std::string out;
  bool upper = true;
  for (char c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c))) {
      upper = true;
      continue;
    }
    out += upper ? static_cast<char>(std::toupper(static_cast<unsigned char>(c))) : c;
    upper = false;
  }
  return out;
}

// A policy statement letting EventBridge send to a queue, only on behalf of the given rules.
json::object eventsMaySend(const std::string& queueId, const json::array& ruleArns) {
  return json::object{
      {"Version", "2012-10-17"},
      {"Statement",
       json::array{
           json::object{{"Sid", "EventBridgeRules"},
                        {"Effect", "Allow"},
                        {"Principal", json::object{{"Service", "events.amazonaws.com"}}},
                        {"Action", "sqs:SendMessage"},
                        {"Resource", arnOf(queueId)},
                        {"Condition",
                         json::object{{"ArnEquals", json::object{{"aws:SourceArn", ruleArns}}}}}},
           json::object{{"Sid", "TlsOnly"},
                        {"Effect", "Deny"},
                        {"Principal", "*"},
                        {"Action", "sqs:*"},
                        {"Resource", arnOf(queueId)},
                        {"Condition", json::object{{"Bool", json::object{{"aws:SecureTransport",
                                                                          "false"}}}}}}}}};
}

class TemplateBuilder {
 public:
  explicit TemplateBuilder(const RoutingConfig& rc) : rc_(rc) {}

  Result<json::object> build() {
    MF_RETURN_IF_ERROR(assignIds());
    addBuses();
    addRole();
    addQueueTargets();
    addWebhookTargets();
    addRules();
    return std::move(resources_);
  }

 private:
  // Every logical id once; two names that collapse to one id (a-b, a_b) are refused.
  Status claimId(const std::string& id, const std::string& what) {
    if (!ids_.insert(id).second) {
      return Status::invalidArgument("aws template: " + what + " gives the logical id " + id +
                                     " that another name already gives; rename one of them");
    }
    return Status::ok();
  }

  Status assignIds() {
    for (const auto& r : rc_.rules) {
      for (const auto& tn : r.targets) {
        const TargetConfig* t = rc_.target(tn);
        if (t->kind == TargetConfig::Kind::kQueue) queueRules_[t->queue].push_back(r.name);
        if (t->kind == TargetConfig::Kind::kWebhook) webhookRules_[t->name].push_back(r.name);
      }
      buses_.insert(r.bus);
      MF_RETURN_IF_ERROR(claimId(ruleId(r.name), "rule " + r.name));
    }
    for (const auto& t : rc_.targets) {
      if (t.kind == TargetConfig::Kind::kBus) buses_.insert(t.bus);
      if (t.kind == TargetConfig::Kind::kWebhook) {
        for (const char* kind : {"Connection", "ApiDestination", "WebhookDlq"}) {
          MF_RETURN_IF_ERROR(claimId(kind + pascal(t.name), "webhook target " + t.name));
        }
        MF_RETURN_IF_ERROR(claimId("WebhookDlq" + pascal(t.name) + "Policy", t.name));
        MF_RETURN_IF_ERROR(claimId("WebhookDlq" + pascal(t.name) + "Alarm", t.name));
      }
    }
    for (const auto& [queue, rules] : queueRules_) {
      MF_RETURN_IF_ERROR(claimId(queueId(queue), "queue " + queue));
      MF_RETURN_IF_ERROR(claimId(queueId(queue) + "Policy", "queue " + queue));
    }
    for (const auto& b : buses_) {
      if (b != "default") MF_RETURN_IF_ERROR(claimId(busId(b), "bus " + b));
    }
    return Status::ok();
  }

  static std::string ruleId(const std::string& name) { return "Rule" + pascal(name); }
  static std::string busId(const std::string& name) { return "EventBus" + pascal(name); }
  static std::string queueId(const std::string& name) { return "TargetQueue" + pascal(name); }

  json::value busArn(const std::string& bus) const {
    if (bus == "default") {
      return sub("arn:${AWS::Partition}:events:${AWS::Region}:${AWS::AccountId}:event-bus/default");
    }
    return arnOf(busId(bus));
  }

  void addBuses() {
    for (const auto& b : buses_) {
      if (b == "default") continue;  // every account has it
      resources_[busId(b)] = json::object{{"Type", "AWS::Events::EventBus"},
                                          {"Properties", json::object{{"Name", b}}}};
    }
  }

  // The role EventBridge assumes for bus targets and API destinations (what `aws provision`
  // takes as aws.events_role_arn): PutEvents on the target buses, InvokeApiDestination on the
  // destinations, nothing else.
  void addRole() {
    json::array statements;
    json::array busArns;
    for (const auto& t : rc_.targets) {
      if (t.kind == TargetConfig::Kind::kBus) busArns.push_back(busArn(t.bus));
    }
    if (!busArns.empty()) {
      statements.push_back(json::object{{"Sid", "PutEventsOnTargetBuses"},
                                        {"Effect", "Allow"},
                                        {"Action", "events:PutEvents"},
                                        {"Resource", busArns}});
    }
    json::array destinations;
    for (const auto& t : rc_.targets) {
      if (t.kind != TargetConfig::Kind::kWebhook) continue;
      destinations.push_back(
          sub("arn:${AWS::Partition}:events:${AWS::Region}:${AWS::AccountId}:api-destination/"
              "${NamePrefix}" +
              t.name + "/*"));
    }
    if (!destinations.empty()) {
      statements.push_back(json::object{{"Sid", "InvokeWebhookDestinations"},
                                        {"Effect", "Allow"},
                                        {"Action", "events:InvokeApiDestination"},
                                        {"Resource", destinations}});
    }
    if (statements.empty()) return;
    resources_["EventBridgeTargetsRole"] = json::object{
        {"Type", "AWS::IAM::Role"},
        {"Properties",
         json::object{
             {"Description",
              "Assumed by EventBridge to deliver to bus targets and API destinations"},
             {"AssumeRolePolicyDocument",
              json::object{
                  {"Version", "2012-10-17"},
                  {"Statement",
                   json::array{json::object{
                       {"Effect", "Allow"},
                       {"Principal", json::object{{"Service", "events.amazonaws.com"}}},
                       {"Action", "sts:AssumeRole"},
                       {"Condition", json::object{{"StringEquals",
                                                   json::object{{"aws:SourceAccount",
                                                                 cfnRef("AWS::AccountId")}}}}}}}}}},
             {"Policies", json::array{json::object{
                              {"PolicyName", "deliver"},
                              {"PolicyDocument", json::object{{"Version", "2012-10-17"},
                                                              {"Statement", statements}}}}}}}}};
  }

  json::array ruleArns(const std::vector<std::string>& rules) const {
    json::array a;
    for (const auto& r : rules) a.push_back(arnOf(ruleId(r)));
    return a;
  }

  void addQueueTargets() {
    for (const auto& [queue, rules] : queueRules_) {
      json::object props{{"QueueName", queue}, {"KmsMasterKeyId", cfnRef("QueueKey")}};
      if (isFifo(queue)) {
        props["FifoQueue"] = true;
        props["ContentBasedDeduplication"] = true;  // EventBridge sends no dedup id
      }
      std::string id = queueId(queue);
      resources_[id] = json::object{{"Type", "AWS::SQS::Queue"},
                                    {"UpdateReplacePolicy", "Retain"},
                                    {"DeletionPolicy", "Retain"},
                                    {"Properties", props}};
      resources_[id + "Policy"] = json::object{
          {"Type", "AWS::SQS::QueuePolicy"},
          {"Properties", json::object{{"Queues", json::array{cfnRef(id)}},
                                      {"PolicyDocument", eventsMaySend(id, ruleArns(rules))}}}};
    }
  }

  void addWebhookTargets() {
    for (const auto& t : rc_.targets) {
      if (t.kind != TargetConfig::Kind::kWebhook) continue;
      std::string p = pascal(t.name);
      // EventBridge connections always authorize; a target without a secret sends its own name
      // (as `aws provision` does).
      std::string header = t.authSecret.empty() ? "x-memberflow-target" : t.authHeader;
      std::string value = t.authSecret.empty()
                              ? t.name
                              : "{{resolve:secretsmanager:" + t.authSecret + ":SecretString}}";
      resources_["Connection" + p] = json::object{
          {"Type", "AWS::Events::Connection"},
          {"Properties",
           json::object{{"Name", sub("${NamePrefix}" + t.name)},
                        {"Description", "Webhook target " + t.name + " of the rules file"},
                        {"AuthorizationType", "API_KEY"},
                        {"AuthParameters", json::object{{"ApiKeyAuthParameters",
                                                         json::object{{"ApiKeyName", header},
                                                                      {"ApiKeyValue", value}}}}}}}};
      resources_["ApiDestination" + p] =
          json::object{{"Type", "AWS::Events::ApiDestination"},
                       {"Properties", json::object{{"Name", sub("${NamePrefix}" + t.name)},
                                                   {"ConnectionArn", arnOf("Connection" + p)},
                                                   {"InvocationEndpoint", t.url},
                                                   {"HttpMethod", "POST"},
                                                   {"InvocationRateLimitPerSecond", 300}}}};
      // EventBridge dead-letter queues cannot be FIFO: a standard queue, as `aws provision`.
      std::string dlq = "WebhookDlq" + p;
      resources_[dlq] = json::object{
          {"Type", "AWS::SQS::Queue"},
          {"UpdateReplacePolicy", "Retain"},
          {"DeletionPolicy", "Retain"},
          {"Properties", json::object{{"QueueName", sub("${NamePrefix}" + t.name + "-webhook-dlq")},
                                      {"KmsMasterKeyId", cfnRef("QueueKey")},
                                      {"MessageRetentionPeriod", 1209600}}}};
      auto rules = webhookRules_.find(t.name);
      resources_[dlq + "Policy"] = json::object{
          {"Type", "AWS::SQS::QueuePolicy"},
          {"Properties",
           json::object{{"Queues", json::array{cfnRef(dlq)}},
                        {"PolicyDocument", eventsMaySend(dlq, rules == webhookRules_.end()
                                                                  ? json::array{}
                                                                  : ruleArns(rules->second))}}}};
      resources_[dlq + "Alarm"] = json::object{
          {"Type", "AWS::CloudWatch::Alarm"},
          {"Properties",
           json::object{
               {"AlarmDescription", "Webhook target " + t.name + ": undeliverable events"},
               {"Namespace", "AWS/SQS"},
               {"MetricName", "ApproximateNumberOfMessagesVisible"},
               {"Dimensions",
                json::array{json::object{
                    {"Name", "QueueName"},
                    {"Value", json::object{{"Fn::GetAtt", json::array{dlq, "QueueName"}}}}}}},
               {"Statistic", "Maximum"},
               {"Period", 60},
               {"EvaluationPeriods", 1},
               {"Threshold", 0},
               {"ComparisonOperator", "GreaterThanThreshold"},
               {"TreatMissingData", "notBreaching"},
               {"AlarmActions", json::array{cfnRef("AlarmTopic")}}}}};
    }
  }

  json::object target(const RuleConfig& r, const TargetConfig& t) const {
    json::object o{{"Id", t.name}};
    switch (t.kind) {
      case TargetConfig::Kind::kQueue:
        o["Arn"] = arnOf(queueId(t.queue));
        // FIFO queues need a group id or EventBridge drops the events without a word.
        if (isFifo(t.queue)) o["SqsParameters"] = json::object{{"MessageGroupId", "memberflow"}};
        break;
      case TargetConfig::Kind::kBus:
        o["Arn"] = busArn(t.bus);
        o["RoleArn"] = arnOf("EventBridgeTargetsRole");
        break;
      case TargetConfig::Kind::kWebhook:
        o["Arn"] = arnOf("ApiDestination" + pascal(t.name));
        o["RoleArn"] = arnOf("EventBridgeTargetsRole");
        o["RetryPolicy"] = json::object{{"MaximumRetryAttempts", std::max(0, t.maxAttempts - 1)},
                                        {"MaximumEventAgeInSeconds", 86400}};
        o["DeadLetterConfig"] = json::object{{"Arn", arnOf("WebhookDlq" + pascal(t.name))}};
        break;
    }
    if (!r.inputPath.empty()) o["InputPath"] = r.inputPath;
    return o;
  }

  void addRules() {
    for (const auto& r : rc_.rules) {
      json::array targets;
      for (const auto& tn : r.targets) targets.push_back(target(r, *rc_.target(tn)));
      resources_[ruleId(r.name)] = json::object{
          {"Type", "AWS::Events::Rule"},
          {"Properties",
           json::object{{"Name", r.name},
                        {"EventBusName", r.bus == "default" ? json::value("default")
                                                            : json::value(cfnRef(busId(r.bus)))},
                        {"EventPattern", r.pattern},
                        {"State", "ENABLED"},
                        {"Targets", targets}}}};
    }
  }

  const RoutingConfig& rc_;
  json::object resources_;
  std::set<std::string> ids_;
  std::set<std::string> buses_;
  std::map<std::string, std::vector<std::string>> queueRules_;    // queue -> rules
  std::map<std::string, std::vector<std::string>> webhookRules_;  // target -> rules
};

}  // namespace

int awsTemplateCommand(const Config& cfg, const std::optional<std::string>& rulesFile) {
  std::string path = rulesFile.value_or(cfg.rulesFile);
  if (path.empty()) {
    return fail(Status::invalidArgument(
        "no rules file: pass --rules FILE or set bus.rules_file in the configuration"));
  }
  std::ifstream in(path);
  if (!in) return fail(Status::invalidArgument("cannot read the rules file " + path));
  std::stringstream ss;
  ss << in.rdbuf();
  auto rc = parseRoutingConfig(ss.str());
  if (!rc.isOk()) return fail(rc.status());
  auto resources = TemplateBuilder(*rc).build();
  if (!resources.isOk()) return fail(resources.status());
  emitMapping(std::cout, *resources, 2, false);
  return 0;
}

}  // namespace memberflow::cli
