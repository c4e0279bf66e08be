// File: kafka_source.h
// The Kafka adapters of ChangeSource and ChangeSink, on librdkafka.
//  - KafkaChangeSource: a consumer in a consumer group; offsets are committed only by
//    commit() (auto commit off), so an offset moves only after its batch is archived,
//    ledgered and enqueued. After a rebalance takes a partition away, commit() refuses that
//    partition (FailedPrecondition): the batch is abandoned and the new owner processes it
//    again from the committed offset (ingest is idempotent).
//  - KafkaChangeSink: an idempotent producer (acks=all) with Kafka's Java-compatible
//    murmur2 partitioner, so a member's records land in one partition.
// Security (SASL/SCRAM, TLS, MSK IAM through librdkafka's OAUTHBEARER) is configuration:
// every librdkafka property can be passed through.
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>

#include "ports/change_source.h"

typedef struct rd_kafka_s rd_kafka_t;

namespace memberflow::kafka {

struct KafkaOptions {
  std::string bootstrapServers;
  std::string topic;
  std::string group;
  // librdkafka properties passed through as given (security.protocol, sasl.*, ssl.*, ...).
  std::map<std::string, std::string> properties;
  // Bounds records fetched ahead of processing (librdkafka's default). It must hold more than
  // a second of consumption: librdkafka 2.0 looks at a full fetch queue again only when its
  // broker thread next wakes (up to ~1 s later), and the consumer idles once the queue runs
  // dry. At 16 MB ingest stalled ~0.4 s every ~18,000 records: 2 s of a 5.5 s run.
  int64_t maxBufferedKbytes = 65536;
  bool subscribe = true;  // false: an observer for progress() that does not join the group
};

class KafkaSourceReader;

class KafkaChangeSource final : public ChangeSource {
 public:
  static Result<std::unique_ptr<KafkaChangeSource>> open(const KafkaOptions& opts);
  ~KafkaChangeSource() override;

  Result<std::vector<SourceRecord>> poll(size_t maxRecords,
                                         std::chrono::milliseconds wait) override;
  Status commit(const std::map<int32_t, int64_t>& nextOffsets) override;
  Status rewindToCommitted() override;
  Result<Progress> progress() override;
  uint64_t revocations() const override { return revocations_; }

  // Called by librdkafka's rebalance callback.
  void onAssign(const std::set<int32_t>& partitions);
  void onRevoke(const std::set<int32_t>& partitions);

 private:
  explicit KafkaChangeSource(KafkaOptions opts) : opts_(std::move(opts)) {}
  KafkaOptions opts_;
  rd_kafka_t* rk_ = nullptr;
  // progress()'s reader (its own handle, never subscribed), opened at its first call. On rk_
  // those requests queue behind the consumer's long-polling fetches on the broker's one
  // connection: 4 partitions took ~2.4 s a call, so `run --until-idle` noticed the end ~7 s late.
  std::mutex probeMu_;
  std::unique_ptr<KafkaSourceReader> probe_;
  std::mutex mu_;
  std::set<int32_t> assigned_;
  std::atomic<uint64_t> revocations_{0};
  std::chrono::steady_clock::time_point lastErrorLog_{};
};

// The SourceReader on a Kafka topic: watermarks, the group's committed offsets, ListOffsets by
// time, and reads of an offset range through its own assignment (never a subscription, so the
// pipeline's group is not rebalanced). opts.subscribe is ignored.
class KafkaSourceReader final : public SourceReader {
 public:
  static Result<std::unique_ptr<KafkaSourceReader>> open(const KafkaOptions& opts);
  ~KafkaSourceReader() override;

  Result<std::map<int32_t, PartitionRange>> ranges() override;
  Result<int64_t> offsetForTime(int32_t partition, int64_t tsMs) override;
  Result<std::vector<SourceRecord>> read(int32_t partition, int64_t from, int64_t to,
                                         size_t max) override;

 private:
  explicit KafkaSourceReader(KafkaOptions opts) : opts_(std::move(opts)) {}
  KafkaOptions opts_;
  rd_kafka_t* rk_ = nullptr;
};

class KafkaChangeSink final : public ChangeSink {
 public:
  static Result<std::unique_ptr<KafkaChangeSink>> open(const KafkaOptions& opts);
  ~KafkaChangeSink() override;
  Status append(const std::vector<ProduceRecord>& records) override;
  int32_t partitionCount() const override;

 private:
  explicit KafkaChangeSink(KafkaOptions opts) : opts_(std::move(opts)) {}
  KafkaOptions opts_;
  rd_kafka_t* rk_ = nullptr;
};

}  // namespace memberflow::kafka
