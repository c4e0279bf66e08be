// File: sns_topic.h
// Topic on Amazon SNS (FIFO): PublishBatch in batches of 10 with the group and dedup ids
// (moto, like SNS FIFO without content-based dedup, needs the dedup id on every message);
// subscriptions are SQS queues with raw message delivery.
#pragma once

#include <memory>

#include "adapters/aws/aws_client.h"
#include "ports/topic.h"

namespace memberflow::aws {

class SnsTopic final : public Topic {
 public:
  // Creates the FIFO topic (idempotent) and returns it.
  static Result<std::unique_ptr<SnsTopic>> create(AwsClient& client, const std::string& name);
  const std::string& name() const override { return name_; }
  const std::string& arn() const { return arn_; }
  // Subscribes an SQS queue (raw delivery: the queue gets the message itself).
  Status subscribeQueue(const std::string& queueArn);
  Status publish(const std::vector<OutgoingMessage>& messages) override;

 private:
  SnsTopic(AwsClient& c, std::string name, std::string arn)
      : client_(c), name_(std::move(name)), arn_(std::move(arn)) {}
  AwsClient& client_;
  std::string name_, arn_;
};

}  // namespace memberflow::aws
