// File: sqs_queue.h
// Queue on Amazon SQS (JSON protocol), FIFO or standard. Batches are split into SQS's
// batches of 10. Visibility timeouts are whole seconds on SQS (rounded up). SQS cannot list
// without receiving: peek() receives (hiding what it has seen, so nothing is listed twice),
// then makes the messages visible again — each peek counts as a receive.
#pragma once

#include <memory>
#include <optional>

#include "adapters/aws/aws_client.h"
#include "ports/queue.h"

namespace memberflow::aws {

struct SqsQueueOptions {
  std::string displayName;  // the logical name name() returns (default: the SQS name)
  bool fifo = true;
  // Needed on FIFO queues that EventBridge delivers to: it sends no dedup id. Explicit dedup
  // ids from other senders still take precedence.
  bool contentBasedDedup = false;
  std::optional<std::string> deadLetterQueueArn;
  int maxReceiveCount = 5;
};

class SqsQueue final : public Queue {
 public:
  // Resolves the queue URL; with create, creates the queue first (tests, provisioning).
  static Result<std::unique_ptr<SqsQueue>> open(AwsClient& client, const std::string& name,
                                                bool create, const SqsQueueOptions& opts = {});
  const std::string& name() const override { return name_; }
  const std::string& url() const { return url_; }
  Result<std::string> arn();
  Status send(const std::vector<OutgoingMessage>& messages) override;
  Result<std::vector<ReceivedMessage>> receive(size_t max, int64_t visibilityMs,
                                               int64_t waitMs) override;
  Status remove(const std::vector<std::string>& receiptHandles) override;
  Status changeVisibility(const std::string& receiptHandle, int64_t visibilityMs) override;
  Result<QueueStats> stats() override;
  Result<std::vector<ReceivedMessage>> peek(size_t max) override;

 private:
  SqsQueue(AwsClient& c, std::string name, std::string url, bool fifo)
      : client_(c), name_(std::move(name)), url_(std::move(url)), fifo_(fifo) {}
  Result<json::value> call(const std::string& action, json::object body);
  AwsClient& client_;
  std::string name_, url_;
  bool fifo_;
};

}  // namespace memberflow::aws
