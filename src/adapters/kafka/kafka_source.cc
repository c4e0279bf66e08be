#include "adapters/kafka/kafka_source.h"

#include <librdkafka/rdkafka.h>

#include <chrono>
#include <thread>

#include "common/log.h"
#include "common/time.h"

namespace memberflow::kafka {
namespace {

constexpr const char* kStage = "kafka";

Result<rd_kafka_conf_t*> makeConf(const KafkaOptions& o,
                                  const std::map<std::string, std::string>& own) {
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  char err[512];
  std::map<std::string, std::string> all = own;
  all["bootstrap.servers"] = o.bootstrapServers;
  for (const auto& [k, v] : o.properties) all[k] = v;  // operators may override anything
  for (const auto& [k, v] : all) {
    if (rd_kafka_conf_set(conf, k.c_str(), v.c_str(), err, sizeof err) != RD_KAFKA_CONF_OK) {
      rd_kafka_conf_destroy(conf);
      // The property name is safe to report; its value may be a secret and is not.
      return Status::invalidArgument("kafka property " + k + ": " + std::string(err));
    }
  }
  return conf;
}

void rebalance(rd_kafka_t* rk, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t* parts,
               void* opaque) {
  auto* self = static_cast<KafkaChangeSource*>(opaque);
  std::set<int32_t> ps;
  for (int i = 0; i < parts->cnt; ++i) ps.insert(parts->elems[i].partition);
  if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
    self->onAssign(ps);
    rd_kafka_assign(rk, parts);
  } else {
    self->onRevoke(ps);
    rd_kafka_assign(rk, nullptr);
  }
}

std::vector<int32_t> partitionsOf(rd_kafka_t* rk, const std::string& topic, Status& status) {
  std::vector<int32_t> out;
  rd_kafka_topic_t* t = rd_kafka_topic_new(rk, topic.c_str(), nullptr);
  const rd_kafka_metadata_t* md = nullptr;
  rd_kafka_resp_err_t err = rd_kafka_metadata(rk, 0, t, &md, 10000);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    status = Status::unavailable(std::string("kafka metadata: ") + rd_kafka_err2str(err));
  } else {
    for (int i = 0; i < md->topic_cnt; ++i) {
      if (md->topics[i].err != RD_KAFKA_RESP_ERR_NO_ERROR) continue;
      for (int p = 0; p < md->topics[i].partition_cnt; ++p)
        out.push_back(md->topics[i].partitions[p].id);
    }
    rd_kafka_metadata_destroy(md);
  }
  rd_kafka_topic_destroy(t);
  return out;
}

SourceRecord recordOf(const rd_kafka_message_t* m, const std::string& topic) {
  SourceRecord r;
  r.topic = topic;
  r.partition = m->partition;
  r.offset = m->offset;
  rd_kafka_timestamp_type_t tt;
  r.timestampMs = rd_kafka_message_timestamp(m, &tt);
  if (m->key) r.key = std::string(static_cast<const char*>(m->key), m->key_len);
  if (m->payload) r.value = std::string(static_cast<const char*>(m->payload), m->len);
  rd_kafka_headers_t* hdrs = nullptr;
  if (rd_kafka_message_headers(m, &hdrs) == RD_KAFKA_RESP_ERR_NO_ERROR) {
    const char* name;
    const void* val;
    size_t size;
    for (size_t i = 0;
         rd_kafka_header_get_all(hdrs, i, &name, &val, &size) == RD_KAFKA_RESP_ERR_NO_ERROR; ++i) {
      r.headers.emplace_back(
          name, val ? std::string(static_cast<const char*>(val), size) : std::string());
    }
  }
  return r;
}

// rd_kafka_committed, retried while a broker that just started (or moved the group) answers
// "not coordinator" or "loading" for a moment.
rd_kafka_resp_err_t committedRetrying(rd_kafka_t* rk, rd_kafka_topic_partition_list_t* list) {
  rd_kafka_resp_err_t err = RD_KAFKA_RESP_ERR_NO_ERROR;
  for (int attempt = 0; attempt < 20; ++attempt) {
    err = rd_kafka_committed(rk, list, 10000);
    if (err != RD_KAFKA_RESP_ERR_NOT_COORDINATOR &&
        err != RD_KAFKA_RESP_ERR_COORDINATOR_LOAD_IN_PROGRESS &&
        err != RD_KAFKA_RESP_ERR_COORDINATOR_NOT_AVAILABLE) {
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
  return err;
}

// Every partition's watermarks and the handle's group's committed next offset (the low
// watermark when the group has none: where it would start).
Result<std::map<int32_t, SourceReader::PartitionRange>> rangesOf(rd_kafka_t* rk,
                                                                 const std::string& topic) {
  Status s;
  auto parts = partitionsOf(rk, topic, s);
  if (!s.isOk()) return s;
  std::map<int32_t, SourceReader::PartitionRange> out;
  rd_kafka_topic_partition_list_t* list =
      rd_kafka_topic_partition_list_new(static_cast<int>(parts.size()) + 1);
  for (int32_t part : parts) {
    int64_t lo = 0, hi = 0;
    rd_kafka_resp_err_t err =
        rd_kafka_query_watermark_offsets(rk, topic.c_str(), part, &lo, &hi, 10000);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      rd_kafka_topic_partition_list_destroy(list);
      return Status::unavailable(std::string("kafka watermarks: ") + rd_kafka_err2str(err));
    }
    out[part] = {lo, hi, lo};
    rd_kafka_topic_partition_list_add(list, topic.c_str(), part);
  }
  rd_kafka_resp_err_t err = committedRetrying(rk, list);
  if (err == RD_KAFKA_RESP_ERR_NO_ERROR) {
    for (int i = 0; i < list->cnt; ++i) {
      if (list->elems[i].offset >= 0)
        out[list->elems[i].partition].committed = list->elems[i].offset;
    }
  }
  rd_kafka_topic_partition_list_destroy(list);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR)
    return Status::unavailable(std::string("kafka committed: ") + rd_kafka_err2str(err));
  return out;
}

// A consumer handle on `conf` (taken), its events served by consumer_poll.
Result<rd_kafka_t*> newConsumer(rd_kafka_conf_t* conf) {
  char err[512];
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
  if (!rk) {
    rd_kafka_conf_destroy(conf);
    return Status::invalidArgument(std::string("kafka consumer: ") + err);
  }
  rd_kafka_poll_set_consumer(rk);
  return rk;
}

}  // namespace

Result<std::unique_ptr<KafkaChangeSource>> KafkaChangeSource::open(const KafkaOptions& opts) {
  std::unique_ptr<KafkaChangeSource> self(new KafkaChangeSource(opts));
  auto conf =
      makeConf(opts, {{"group.id", opts.group},
                      {"enable.auto.commit", "false"},
                      {"enable.auto.offset.store", "false"},
                      {"auto.offset.reset", "earliest"},
                      {"enable.partition.eof", "false"},
                      {"queued.max.messages.kbytes", std::to_string(opts.maxBufferedKbytes)},
                      {"session.timeout.ms", "10000"},
                      {"heartbeat.interval.ms", "1000"}});
  if (!conf.isOk()) return conf.status();
  rd_kafka_conf_set_rebalance_cb(*conf, rebalance);
  rd_kafka_conf_set_opaque(*conf, self.get());
  auto rk = newConsumer(*conf);
  if (!rk.isOk()) return rk.status();
  self->rk_ = *rk;
  if (!opts.subscribe) return self;
  rd_kafka_topic_partition_list_t* topics = rd_kafka_topic_partition_list_new(1);
  rd_kafka_topic_partition_list_add(topics, opts.topic.c_str(), RD_KAFKA_PARTITION_UA);
  rd_kafka_resp_err_t e = rd_kafka_subscribe(self->rk_, topics);
  rd_kafka_topic_partition_list_destroy(topics);
  if (e != RD_KAFKA_RESP_ERR_NO_ERROR)
    return Status::unavailable(std::string("kafka subscribe: ") + rd_kafka_err2str(e));
  return self;
}

KafkaChangeSource::~KafkaChangeSource() {
  probe_.reset();
  if (rk_) {
    rd_kafka_consumer_close(rk_);  // leaves the group cleanly: partitions move at once
    rd_kafka_destroy(rk_);
  }
}

void KafkaChangeSource::onAssign(const std::set<int32_t>& partitions) {
  std::lock_guard lock(mu_);
  assigned_.insert(partitions.begin(), partitions.end());
  log::info("partitions assigned",
            {kStage, {}, {}, {}, "assigned", std::to_string(partitions.size())});
}

void KafkaChangeSource::onRevoke(const std::set<int32_t>& partitions) {
  std::lock_guard lock(mu_);
  for (int32_t p : partitions) assigned_.erase(p);
  if (!partitions.empty()) ++revocations_;
  log::info("partitions revoked",
            {kStage, {}, {}, {}, "revoked", std::to_string(partitions.size())});
}

Result<std::vector<SourceRecord>> KafkaChangeSource::poll(size_t maxRecords,
                                                          std::chrono::milliseconds wait) {
  std::vector<SourceRecord> out;
  auto deadline = std::chrono::steady_clock::now() + wait;
  while (out.size() < maxRecords) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    int timeout = out.empty() ? static_cast<int>(std::max<int64_t>(0, left.count())) : 0;
    rd_kafka_message_t* m = rd_kafka_consumer_poll(rk_, timeout);
    if (!m) {
      if (!out.empty() || std::chrono::steady_clock::now() >= deadline) break;
      continue;
    }
    if (m->err) {
      // Transport errors while a broker restarts, a topic not created yet: librdkafka
      // recovers by itself, so they are logged and polling goes on until the deadline.
      auto now = std::chrono::steady_clock::now();
      if (now - lastErrorLog_ > std::chrono::seconds(5)) {
        log::warn("kafka consumer error", {kStage, {}, {}, {}, "retry", rd_kafka_err2str(m->err)});
        lastErrorLog_ = now;
      }
      rd_kafka_message_destroy(m);
      if (!out.empty()) break;
      continue;
    }
    out.push_back(recordOf(m, opts_.topic));
    rd_kafka_message_destroy(m);
  }
  return out;
}

Status KafkaChangeSource::commit(const std::map<int32_t, int64_t>& nextOffsets) {
  // Rebalance callbacks run inside poll() on this same thread, so the assignment cannot
  // change between this check and the commit.
  rd_kafka_topic_partition_list_t* list =
      rd_kafka_topic_partition_list_new(static_cast<int>(nextOffsets.size()));
  {
    std::lock_guard lock(mu_);
    for (const auto& [p, off] : nextOffsets) {
      if (!assigned_.count(p)) {
        rd_kafka_topic_partition_list_destroy(list);
        return Status::failedPrecondition("partition " + std::to_string(p) +
                                          " was revoked: its batch is left to the new owner");
      }
      rd_kafka_topic_partition_list_add(list, opts_.topic.c_str(), p)->offset = off;
    }
  }
  rd_kafka_resp_err_t err = rd_kafka_commit(rk_, list, 0);
  rd_kafka_topic_partition_list_destroy(list);
  if (err == RD_KAFKA_RESP_ERR_NO_ERROR) return Status::ok();
  if (err == RD_KAFKA_RESP_ERR_REBALANCE_IN_PROGRESS ||
      err == RD_KAFKA_RESP_ERR_ILLEGAL_GENERATION || err == RD_KAFKA_RESP_ERR_UNKNOWN_MEMBER_ID) {
    return Status::failedPrecondition(std::string("kafka commit: ") + rd_kafka_err2str(err));
  }
  return Status::unavailable(std::string("kafka commit: ") + rd_kafka_err2str(err));
}

Status KafkaChangeSource::rewindToCommitted() {
  rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(8);
  {
    std::lock_guard lock(mu_);
    for (int32_t p : assigned_) rd_kafka_topic_partition_list_add(list, opts_.topic.c_str(), p);
  }
  Status s;
  if (list->cnt > 0) {
    rd_kafka_resp_err_t err = rd_kafka_committed(rk_, list, 10000);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      s = Status::unavailable(std::string("kafka committed: ") + rd_kafka_err2str(err));
    } else {
      for (int i = 0; i < list->cnt; ++i) {
        if (list->elems[i].offset < 0) list->elems[i].offset = RD_KAFKA_OFFSET_BEGINNING;
      }
      rd_kafka_error_t* e = rd_kafka_seek_partitions(rk_, list, 10000);
      if (e) {
        s = Status::unavailable(std::string("kafka seek: ") + rd_kafka_error_string(e));
        rd_kafka_error_destroy(e);
      }
    }
  }
  rd_kafka_topic_partition_list_destroy(list);
  return s;
}

Result<ChangeSource::Progress> KafkaChangeSource::progress() {
  auto ranges = [this]() -> Result<std::map<int32_t, SourceReader::PartitionRange>> {
    // An observer's rk_ fetches nothing: it answers at once itself.
    if (!opts_.subscribe) return rangesOf(rk_, opts_.topic);
    std::lock_guard lock(probeMu_);
    if (!probe_) {
      auto probe = KafkaSourceReader::open(opts_);
      if (!probe.isOk()) return probe.status();
      probe_ = std::move(probe).value();
    }
    return probe_->ranges();
  }();
  if (!ranges.isOk()) return ranges.status();
  Progress p;
  for (const auto& [part, r] : *ranges) {
    p.end += r.high;
    p.committed += r.committed;
  }
  return p;
}

// ---- reader -------------------------------------------------------------------------------

Result<std::unique_ptr<KafkaSourceReader>> KafkaSourceReader::open(const KafkaOptions& opts) {
  std::unique_ptr<KafkaSourceReader> self(new KafkaSourceReader(opts));
  // group.id only names the group whose commits ranges() reads: the reader assigns
  // partitions itself and never subscribes, so it does not join (or rebalance) that group.
  auto conf =
      makeConf(opts, {{"group.id", opts.group},
                      {"enable.auto.commit", "false"},
                      {"enable.auto.offset.store", "false"},
                      {"enable.partition.eof", "true"},
                      {"queued.max.messages.kbytes", std::to_string(opts.maxBufferedKbytes)}});
  if (!conf.isOk()) return conf.status();
  auto rk = newConsumer(*conf);
  if (!rk.isOk()) return rk.status();
  self->rk_ = *rk;
  return self;
}

KafkaSourceReader::~KafkaSourceReader() {
  if (rk_) {
    rd_kafka_assign(rk_, nullptr);
    rd_kafka_destroy(rk_);
  }
}

Result<std::map<int32_t, SourceReader::PartitionRange>> KafkaSourceReader::ranges() {
  // Outside read() nothing is assigned, so what waits in the queue is only the handle's error
  // events (a broker down, reconnects): served here, so they do not pile up during an outage.
  while (rd_kafka_message_t* m = rd_kafka_consumer_poll(rk_, 0)) rd_kafka_message_destroy(m);
  return rangesOf(rk_, opts_.topic);
}

Result<int64_t> KafkaSourceReader::offsetForTime(int32_t partition, int64_t tsMs) {
  auto r = ranges();
  if (!r.isOk()) return r.status();
  auto it = r->find(partition);
  if (it == r->end()) return Status::invalidArgument("no partition " + std::to_string(partition));
  rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(1);
  rd_kafka_topic_partition_list_add(list, opts_.topic.c_str(), partition)->offset = tsMs;
  rd_kafka_resp_err_t err = rd_kafka_offsets_for_times(rk_, list, 10000);
  int64_t off = list->elems[0].offset;
  rd_kafka_resp_err_t perr = list->elems[0].err;
  rd_kafka_topic_partition_list_destroy(list);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR || perr != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return Status::unavailable(std::string("kafka offsets for times: ") +
                               rd_kafka_err2str(err != RD_KAFKA_RESP_ERR_NO_ERROR ? err : perr));
  }
  return off < 0 ? it->second.high : off;  // -1: no record at or after the time
}

Result<std::vector<SourceRecord>> KafkaSourceReader::read(int32_t partition, int64_t from,
                                                          int64_t to, size_t max) {
  auto r = ranges();
  if (!r.isOk()) return r.status();
  auto it = r->find(partition);
  if (it == r->end()) return Status::invalidArgument("no partition " + std::to_string(partition));
  from = std::max(from, it->second.low);
  to = std::min(to, it->second.high);
  std::vector<SourceRecord> out;
  if (from >= to || max == 0) return out;
  rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(1);
  rd_kafka_topic_partition_list_add(list, opts_.topic.c_str(), partition)->offset = from;
  rd_kafka_resp_err_t err = rd_kafka_assign(rk_, list);
  rd_kafka_topic_partition_list_destroy(list);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR)
    return Status::unavailable(std::string("kafka assign: ") + rd_kafka_err2str(err));
  // Until the range or `max` is read, or the partition's end; Unavailable after 30 s without.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  bool ended = false;  // the range, `max` or the partition's end was reached
  while (!ended && std::chrono::steady_clock::now() < deadline) {
    rd_kafka_message_t* m = rd_kafka_consumer_poll(rk_, 200);
    if (!m) continue;
    if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
      ended = true;  // offsets may have gaps (transaction markers, compaction)
    } else if (m->err) {
      log::warn("kafka reader error", {kStage, {}, {}, {}, "retry", rd_kafka_err2str(m->err)});
    } else if (m->offset >= to) {
      ended = true;
    } else {
      out.push_back(recordOf(m, opts_.topic));
      ended = out.size() >= max || m->offset + 1 >= to;
    }
    rd_kafka_message_destroy(m);
  }
  rd_kafka_assign(rk_, nullptr);
  if (!ended) return Status::unavailable("kafka reader: the range did not arrive within 30 s");
  return out;
}

// ---- producer -----------------------------------------------------------------------------

namespace {

struct Delivery {
  std::atomic<int> failed{0};
  std::mutex mu;
  std::string firstError;
};

void onDelivery(rd_kafka_t*, const rd_kafka_message_t* m, void*) {
  if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR || !m->_private) return;
  auto* d = static_cast<Delivery*>(m->_private);
  std::lock_guard lock(d->mu);
  if (d->failed++ == 0) d->firstError = rd_kafka_err2str(m->err);
}

}  // namespace

Result<std::unique_ptr<KafkaChangeSink>> KafkaChangeSink::open(const KafkaOptions& opts) {
  std::unique_ptr<KafkaChangeSink> self(new KafkaChangeSink(opts));
  auto conf = makeConf(opts, {{"enable.idempotence", "true"},
                              {"acks", "all"},
                              {"partitioner", "murmur2_random"},  // Kafka's Java default
                              {"linger.ms", "5"},
                              {"message.timeout.ms", "60000"}});
  if (!conf.isOk()) return conf.status();
  rd_kafka_conf_set_dr_msg_cb(*conf, onDelivery);
  char err[512];
  self->rk_ = rd_kafka_new(RD_KAFKA_PRODUCER, *conf, err, sizeof err);
  if (!self->rk_) {
    rd_kafka_conf_destroy(*conf);
    return Status::invalidArgument(std::string("kafka producer: ") + err);
  }
  return self;
}

KafkaChangeSink::~KafkaChangeSink() {
  if (rk_) {
    rd_kafka_flush(rk_, 10000);
    rd_kafka_destroy(rk_);
  }
}

Status KafkaChangeSink::append(const std::vector<ProduceRecord>& records) {
  Delivery d;
  for (const auto& r : records) {
    rd_kafka_headers_t* hdrs = rd_kafka_headers_new(r.headers.size());
    for (const auto& [k, v] : r.headers) {
      rd_kafka_header_add(hdrs, k.data(), static_cast<ssize_t>(k.size()), v.data(),
                          static_cast<ssize_t>(v.size()));
    }
    // The RD_KAFKA_V_* macros cast their arguments unparenthesised: compute them first.
    const int32_t partition = r.partition ? *r.partition : RD_KAFKA_PARTITION_UA;
    const void* key = r.key ? r.key->data() : nullptr;
    const size_t keyLen = r.key ? r.key->size() : 0;
    void* value = r.value ? const_cast<char*>(r.value->data()) : nullptr;  // NULL: tombstone
    const size_t valueLen = r.value ? r.value->size() : 0;
    const int64_t timestamp = r.timestampMs.value_or(0);
    for (;;) {
      rd_kafka_resp_err_t err = rd_kafka_producev(
          rk_, RD_KAFKA_V_TOPIC(opts_.topic.c_str()), RD_KAFKA_V_PARTITION(partition),
          RD_KAFKA_V_KEY(key, keyLen), RD_KAFKA_V_VALUE(value, valueLen), RD_KAFKA_V_HEADERS(hdrs),
          RD_KAFKA_V_TIMESTAMP(timestamp), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
          RD_KAFKA_V_OPAQUE(&d), RD_KAFKA_V_END);
      if (err == RD_KAFKA_RESP_ERR_NO_ERROR) break;  // the message owns the headers now
      if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
        rd_kafka_poll(rk_, 100);
        continue;
      }
      rd_kafka_headers_destroy(hdrs);
      rd_kafka_flush(rk_, 30000);
      return Status::unavailable(std::string("kafka produce: ") + rd_kafka_err2str(err));
    }
    rd_kafka_poll(rk_, 0);
  }
  if (rd_kafka_flush(rk_, 60000) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return Status::unavailable("kafka produce: delivery not confirmed in time");
  }
  if (d.failed > 0) return Status::unavailable("kafka produce: " + d.firstError);
  return Status::ok();
}

int32_t KafkaChangeSink::partitionCount() const {
  Status s;
  return static_cast<int32_t>(partitionsOf(rk_, opts_.topic, s).size());
}

}  // namespace memberflow::kafka
