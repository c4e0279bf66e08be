// The Kafka adapter family: the librdkafka consumer and producer of the change topic.
#include <sstream>

#include "adapters/kafka/kafka_source.h"
#include "cli/wiring_families.h"

namespace memberflow::cli::wiring::kafka_family {
namespace {

Result<kafka::KafkaOptions> options(const Config& cfg, Secrets& secrets) {
  kafka::KafkaOptions o;
  o.bootstrapServers = cfg.kafkaBootstrapServers;
  o.topic = cfg.topic;
  o.group = cfg.consumerGroup;
  if (!cfg.kafkaSecurityProtocol.empty())
    o.properties["security.protocol"] = cfg.kafkaSecurityProtocol;
  if (!cfg.kafkaSaslMechanism.empty()) o.properties["sasl.mechanism"] = cfg.kafkaSaslMechanism;
  if (!cfg.kafkaSaslUsername.empty()) o.properties["sasl.username"] = cfg.kafkaSaslUsername;
  if (!cfg.kafkaSslCaLocation.empty()) o.properties["ssl.ca.location"] = cfg.kafkaSslCaLocation;
  if (!cfg.kafkaSaslPasswordSecret.empty()) {
    auto pw = secrets.get(cfg.kafkaSaslPasswordSecret);
    if (!pw.isOk())
      return Status::invalidArgument("kafka.sasl_password_secret: " + pw.status().message());
    o.properties["sasl.password"] = *pw;
  }
  std::stringstream ss(cfg.kafkaProperties);
  for (std::string kv; std::getline(ss, kv, ',');) {
    auto eq = kv.find('=');
    if (eq == std::string::npos) return Status::invalidArgument("kafka.properties takes k=v pairs");
    o.properties[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  return o;
}

}  // namespace

Result<std::unique_ptr<ChangeSource>> source(const Config& cfg, Secrets& secrets, bool observe) {
  auto o = options(cfg, secrets);
  if (!o.isOk()) return o.status();
  o->subscribe = !observe;
  auto k = kafka::KafkaChangeSource::open(*o);
  if (!k.isOk()) return k.status();
  return std::unique_ptr<ChangeSource>(std::move(k).value());
}

Result<std::unique_ptr<ChangeSink>> sink(const Config& cfg, Secrets& secrets) {
  auto o = options(cfg, secrets);
  if (!o.isOk()) return o.status();
  auto k = kafka::KafkaChangeSink::open(*o);
  if (!k.isOk()) return k.status();
  return std::unique_ptr<ChangeSink>(std::move(k).value());
}

Result<std::unique_ptr<SourceReader>> reader(const Config& cfg, Secrets& secrets) {
  auto o = options(cfg, secrets);
  if (!o.isOk()) return o.status();
  auto k = kafka::KafkaSourceReader::open(*o);
  if (!k.isOk()) return k.status();
  return std::unique_ptr<SourceReader>(std::move(k).value());
}

}  // namespace memberflow::cli::wiring::kafka_family
