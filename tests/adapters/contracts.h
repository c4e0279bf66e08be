// File: contracts.h
// Contract suites for the ports. Each suite is written against a harness, so every adapter
// of a port runs the same tests: the embedded ones here, the Kafka, AWS and PostgreSQL ones
// against their real servers. Include once per test binary and INSTANTIATE_TEST_SUITE_P with
// a harness factory.
#pragma once

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <thread>

#include "api/http_server.h"
#include "common/json.h"
#include "domain/member.h"
#include "ports/change_source.h"
#include "ports/delivery_log.h"
#include "ports/event_bus.h"
#include "ports/http_client.h"
#include "ports/lake_journal.h"
#include "ports/ledger.h"
#include "ports/member_store.h"
#include "ports/object_store.h"
#include "ports/parking.h"
#include "ports/queue.h"
#include "ports/secrets.h"
#include "ports/topic.h"

namespace memberflow::contracts {

#define EXPECT_CODE(expr, c) EXPECT_EQ((expr).code(), ::memberflow::Code::c)

// A suite parameterised by a harness factory. A factory that returns null (its server is not
// configured) skips the suite's tests with a message.
template <class Harness>
class ContractTest : public ::testing::TestWithParam<std::function<std::unique_ptr<Harness>()>> {
 protected:
  void SetUp() override {
    h_ = this->GetParam()();
    if (!h_) GTEST_SKIP() << "no server for this adapter";
  }
  std::unique_ptr<Harness> h_;
};

// ---------------------------------------------------------------------------------------
struct QueueHarness {
  virtual ~QueueHarness() = default;
  // A fresh FIFO queue whose messages move to `dlq` after maxReceives receives.
  virtual std::unique_ptr<Queue> fifo(const std::string& name, const std::string& dlq,
                                      int maxReceives) = 0;
  virtual std::unique_ptr<Queue> plain(const std::string& name) = 0;
  // Lets `ms` of queue time pass.
  virtual void advance(int64_t ms) = 0;
};
using QueueHarnessFactory = std::function<std::unique_ptr<QueueHarness>()>;

class QueueContract : public ContractTest<QueueHarness> {
 protected:
  static OutgoingMessage msg(std::string group, std::string dedup, std::string body) {
    return {std::move(group), std::move(dedup), std::move(body), {}};
  }
  static std::vector<std::string> bodies(const std::vector<ReceivedMessage>& ms) {
    std::vector<std::string> out;
    for (const auto& m : ms) out.push_back(m.body);
    return out;
  }
};

TEST_P(QueueContract, SendReceiveDelete) {
  auto q = h_->fifo("q1", "q1-dlq", 5);
  ASSERT_TRUE(q->send({msg("g", "d1", "one")}).isOk());
  auto r = q->receive(10, 2000, 0);
  ASSERT_TRUE(r.isOk());
  ASSERT_EQ(r->size(), 1u);
  EXPECT_EQ((*r)[0].body, "one");
  EXPECT_EQ((*r)[0].receiveCount, 1);
  ASSERT_TRUE(q->remove({(*r)[0].receiptHandle}).isOk());
  h_->advance(2500);  // past the visibility timeout
  EXPECT_TRUE(q->receive(10, 2000, 0)->empty());
}

TEST_P(QueueContract, DuplicateDedupIdIsAcceptedAndDropped) {
  auto q = h_->fifo("q2", "q2-dlq", 5);
  ASSERT_TRUE(q->send({msg("g", "same", "a"), msg("g", "same", "b")}).isOk());
  ASSERT_TRUE(q->send({msg("g", "same", "c")}).isOk());
  auto r = q->receive(10, 30000, 0);
  EXPECT_EQ(bodies(*r), std::vector<std::string>{"a"});
}

TEST_P(QueueContract, GroupDeliversInOrderAndBlocksWhileInFlight) {
  auto q = h_->fifo("q3", "q3-dlq", 5);
  ASSERT_TRUE(q->send({msg("A", "a1", "A1"), msg("A", "a2", "A2"), msg("B", "b1", "B1")}).isOk());
  auto first = q->receive(1, 30000, 0);
  ASSERT_EQ(bodies(*first), std::vector<std::string>{"A1"});
  auto second = q->receive(10, 30000, 0);
  EXPECT_EQ(bodies(*second), std::vector<std::string>{"B1"});  // A2 waits behind A1
  ASSERT_TRUE(q->remove({(*first)[0].receiptHandle}).isOk());
  auto third = q->receive(10, 30000, 0);
  EXPECT_EQ(bodies(*third), std::vector<std::string>{"A2"});
}

TEST_P(QueueContract, OneReceiveReturnsAGroupsMessagesInSendOrder) {
  auto q = h_->fifo("q4", "q4-dlq", 5);
  std::vector<OutgoingMessage> batch;
  for (int i = 0; i < 5; ++i) batch.push_back(msg("G", "d" + std::to_string(i), std::to_string(i)));
  ASSERT_TRUE(q->send(batch).isOk());
  auto r = q->receive(10, 30000, 0);
  EXPECT_EQ(bodies(*r), (std::vector<std::string>{"0", "1", "2", "3", "4"}));
}

TEST_P(QueueContract, RedeliversAfterVisibilityTimeout) {
  auto q = h_->fifo("q5", "q5-dlq", 5);
  ASSERT_TRUE(q->send({msg("g", "d", "x")}).isOk());
  auto r1 = q->receive(1, 1000, 0);
  ASSERT_EQ(r1->size(), 1u);
  EXPECT_TRUE(q->receive(1, 1000, 0)->empty());
  h_->advance(1500);
  auto r2 = q->receive(1, 1000, 0);
  ASSERT_EQ(r2->size(), 1u);
  EXPECT_EQ((*r2)[0].receiveCount, 2);
  // (Deleting with the first, outdated receipt: SQS says the message "might not" be deleted,
  // so the contract promises nothing there; the embedded queue keeps it, tested apart.)
}

// A consumer that received several messages of a group and then vanished (a lost
// connection): once their visibility expires the group starts again from its oldest message.
// (moto 5 fails this; scripts/moto_server.py corrects it to match AWS.)
TEST_P(QueueContract, ExpiredGroupRestartsFromItsOldestMessage) {
  auto q = h_->fifo("q5b", "q5b-dlq", 5);
  ASSERT_TRUE(q->send({msg("G", "d1", "1"), msg("G", "d2", "2"), msg("G", "d3", "3")}).isOk());
  auto lost = q->receive(10, 1000, 0);
  ASSERT_EQ(bodies(*lost), (std::vector<std::string>{"1", "2", "3"}));
  h_->advance(1500);
  auto again = q->receive(10, 30000, 0);
  ASSERT_TRUE(again.isOk());
  ASSERT_FALSE(again->empty());
  EXPECT_EQ((*again)[0].body, "1");
}

TEST_P(QueueContract, ChangeVisibilityToZeroRedeliversAtOnce) {
  auto q = h_->fifo("q6", "q6-dlq", 5);
  ASSERT_TRUE(q->send({msg("g", "d", "x")}).isOk());
  auto r = q->receive(1, 60000, 0);
  ASSERT_TRUE(q->changeVisibility((*r)[0].receiptHandle, 0).isOk());
  EXPECT_EQ(q->receive(1, 60000, 0)->size(), 1u);
}

TEST_P(QueueContract, RedrivesToTheDeadLetterQueueAfterMaxReceives) {
  auto q = h_->fifo("q7", "q7-dlq", 2);
  auto dlq = h_->plain("q7-dlq");
  OutgoingMessage m = msg("g", "d", "poison");
  m.attributes["origin"] = "test";
  ASSERT_TRUE(q->send({m}).isOk());
  for (int i = 0; i < 2; ++i) {
    EXPECT_EQ(q->receive(1, 1000, 0)->size(), 1u);
    h_->advance(1500);
  }
  EXPECT_TRUE(q->receive(1, 1000, 0)->empty());
  auto dead = dlq->receive(10, 1000, 0);
  ASSERT_EQ(dead->size(), 1u);
  EXPECT_EQ((*dead)[0].body, "poison");
  EXPECT_EQ((*dead)[0].attributes.at("origin"), "test");
}

TEST_P(QueueContract, StatsAndPeek) {
  auto q = h_->fifo("q8", "q8-dlq", 5);
  ASSERT_TRUE(q->send({msg("a", "1", "x"), msg("b", "2", "y")}).isOk());
  auto peeked = q->peek(10);
  ASSERT_TRUE(peeked.isOk());
  EXPECT_EQ(peeked->size(), 2u);
  (void)q->receive(1, 30000, 0);
  auto s = q->stats();
  ASSERT_TRUE(s.isOk());
  EXPECT_EQ(s->visible, 1);
  EXPECT_EQ(s->inFlight, 1);
  EXPECT_GE(s->oldestSentAtMs, 0);  // SQS cannot tell (a CloudWatch metric); 0 then
}

// ---------------------------------------------------------------------------------------
struct LedgerHarness {
  virtual ~LedgerHarness() = default;
  virtual Ledger& ledger() = 0;
  virtual int64_t ttlMs() const = 0;
};
using LedgerHarnessFactory = std::function<std::unique_ptr<LedgerHarness>()>;

class LedgerContract : public ContractTest<LedgerHarness> {
 protected:
  int64_t now_ = 1767225600000;
};

TEST_P(LedgerContract, ClaimingTwiceIsPendingUntilCompleted) {
  Ledger& l = h_->ledger();
  EXPECT_EQ(*l.claim({"m1", "m2"}, now_),
            (std::vector<ClaimState>{ClaimState::kClaimed, ClaimState::kClaimed}));
  EXPECT_EQ(*l.claim({"m1"}, now_), std::vector<ClaimState>{ClaimState::kPending});
  ASSERT_TRUE(l.complete({{"m1", MessageOutcome::kEnqueued, "", "raw/k", 3}}, now_ + 5).isOk());
  EXPECT_EQ(*l.claim({"m1", "m2"}, now_),
            (std::vector<ClaimState>{ClaimState::kDone, ClaimState::kPending}));
  auto e = l.get("m1");
  ASSERT_TRUE(e.isOk());
  EXPECT_EQ(e->outcome.outcome, MessageOutcome::kEnqueued);
  EXPECT_EQ(e->outcome.archiveKey, "raw/k");
  EXPECT_EQ(e->outcome.archiveLine, 3);
  EXPECT_EQ(e->completedAtMs, now_ + 5);
}

TEST_P(LedgerContract, FirstOutcomeStays) {
  Ledger& l = h_->ledger();
  (void)l.claim({"x"}, now_);
  ASSERT_TRUE(l.complete({{"x", MessageOutcome::kRejected, "invalid_email", "k", 1}}, now_).isOk());
  ASSERT_TRUE(l.complete({{"x", MessageOutcome::kEnqueued, "", "k", 1}}, now_).isOk());
  EXPECT_EQ(l.get("x")->outcome.reason, "invalid_email");
}

TEST_P(LedgerContract, GetManyAnswersEachIdInOrder) {
  Ledger& l = h_->ledger();
  (void)l.claim({"g1", "g2"}, now_);
  ASSERT_TRUE(l.complete({{"g2", MessageOutcome::kSkipped, "tombstone", "raw/t", 7}}, now_).isOk());
  auto many = l.getMany({"g2", "never", "g1"});
  ASSERT_TRUE(many.isOk()) << many.status().toString();
  ASSERT_EQ(many->size(), 3u);
  ASSERT_TRUE((*many)[0].has_value());
  EXPECT_EQ((*many)[0]->outcome.outcome, MessageOutcome::kSkipped);
  EXPECT_EQ((*many)[0]->outcome.archiveLine, 7);
  EXPECT_FALSE((*many)[1].has_value());
  ASSERT_TRUE((*many)[2].has_value());
  EXPECT_EQ((*many)[2]->outcome.outcome, MessageOutcome::kPending);
}

// More ids than one request or statement takes (DynamoDB's BatchGetItem: 100 keys, SQLite: 500
// parameters), some never claimed, some expired (their TTL passed, not purged yet), one asked
// for twice: each answered in order, as get() answers it.
TEST_P(LedgerContract, GetManyBeyondOneRequestAnswersEachIdAsGetDoes) {
  Ledger& l = h_->ledger();
  const int64_t longAgo = now_ - 2 * h_->ttlMs();
  std::vector<std::string> ids, fresh, expired;
  std::vector<LedgerOutcome> completed;
  for (int i = 0; i < 550; ++i) {
    std::string id = "many-" + std::to_string(i);
    ids.push_back(id);
    if (i % 3 == 0) continue;  // never claimed
    (i % 5 == 0 ? expired : fresh).push_back(id);
    if (i % 2 == 0) completed.push_back({id, MessageOutcome::kEnqueued, "", "raw/m", i});
  }
  ids.push_back("many-7");
  ASSERT_TRUE(l.claim(fresh, now_).isOk());
  ASSERT_TRUE(l.claim(expired, longAgo).isOk());
  ASSERT_TRUE(l.complete(completed, now_ + 1).isOk());
  auto many = l.getMany(ids);
  ASSERT_TRUE(many.isOk()) << many.status().toString();
  ASSERT_EQ(many->size(), ids.size());
  for (size_t i = 0; i < ids.size(); ++i) {
    SCOPED_TRACE(ids[i]);
    const auto& got = (*many)[i];
    auto one = l.get(ids[i]);
    ASSERT_TRUE(one.isOk() || one.status().code() == Code::kNotFound) << one.status().toString();
    ASSERT_EQ(got.has_value(), one.isOk());
    if (i < 550 && i % 3 == 0) {
      EXPECT_FALSE(got.has_value());
    }
    if (!got) continue;
    EXPECT_EQ(got->outcome.messageId, ids[i]);
    EXPECT_EQ(got->outcome.outcome, one->outcome.outcome);
    EXPECT_EQ(got->outcome.reason, one->outcome.reason);
    EXPECT_EQ(got->outcome.archiveKey, one->outcome.archiveKey);
    EXPECT_EQ(got->outcome.archiveLine, one->outcome.archiveLine);
    EXPECT_EQ(got->claimedAtMs, one->claimedAtMs);
    EXPECT_EQ(got->completedAtMs, one->completedAtMs);
    EXPECT_EQ(got->expiresAtMs, one->expiresAtMs);
  }
  // Spot checks against what was written, so the comparison above cannot pass on two wrongs.
  ASSERT_TRUE((*many)[2].has_value());  // fresh, completed
  EXPECT_EQ((*many)[2]->outcome.outcome, MessageOutcome::kEnqueued);
  EXPECT_EQ((*many)[2]->outcome.archiveLine, 2);
  EXPECT_EQ((*many)[2]->claimedAtMs, now_);
  ASSERT_TRUE((*many)[7].has_value());  // fresh, pending
  EXPECT_EQ((*many)[7]->outcome.outcome, MessageOutcome::kPending);
  EXPECT_EQ((*many)[7]->completedAtMs, 0);
  ASSERT_TRUE((*many)[550].has_value());  // many-7 again
  EXPECT_EQ((*many)[550]->outcome.messageId, "many-7");
  ASSERT_TRUE((*many)[545].has_value());  // expired, not completed
  EXPECT_LE((*many)[545]->expiresAtMs, now_);
  EXPECT_EQ((*many)[545]->claimedAtMs, longAgo);
  EXPECT_FALSE((*many)[549].has_value());
  EXPECT_TRUE(l.getMany({})->empty());
}

TEST_P(LedgerContract, UnknownIdIsNotFound) {
  EXPECT_CODE(h_->ledger().get("never").status(), kNotFound);
}

TEST_P(LedgerContract, ExpiredEntriesCanBeClaimedAgain) {
  Ledger& l = h_->ledger();
  (void)l.claim({"old"}, now_);
  ASSERT_TRUE(l.complete({{"old", MessageOutcome::kEnqueued, "", "", 0}}, now_).isOk());
  int64_t later = now_ + h_->ttlMs() + 1;
  EXPECT_EQ(*l.claim({"old"}, later), std::vector<ClaimState>{ClaimState::kClaimed});
  EXPECT_GE(*l.purgeExpired(later + h_->ttlMs() + 1), 1u);
}

// ---------------------------------------------------------------------------------------
struct ObjectStoreHarness {
  virtual ~ObjectStoreHarness() = default;
  virtual ObjectStore& store() = 0;
};
using ObjectStoreHarnessFactory = std::function<std::unique_ptr<ObjectStoreHarness>()>;

class ObjectStoreContract : public ContractTest<ObjectStoreHarness> {
 protected:
};

TEST_P(ObjectStoreContract, PutGetOverwriteAndList) {
  ObjectStore& s = h_->store();
  std::string binary("\x00\x01\xff gz", 6);
  ASSERT_TRUE(s.put("raw/t/dt=2026-01-01/p=0/1-2.ndjson.gz", binary, {}).isOk());
  ASSERT_TRUE(s.put("raw/t/dt=2026-01-01/p=1/1-2.ndjson.gz", "b", {}).isOk());
  ASSERT_TRUE(s.put("lake/x", "c", {}).isOk());
  EXPECT_EQ(*s.get("raw/t/dt=2026-01-01/p=0/1-2.ndjson.gz"), binary);
  ASSERT_TRUE(s.put("lake/x", "c2", {}).isOk());
  EXPECT_EQ(*s.get("lake/x"), "c2");
  EXPECT_EQ(*s.list("raw/"), (std::vector<std::string>{"raw/t/dt=2026-01-01/p=0/1-2.ndjson.gz",
                                                       "raw/t/dt=2026-01-01/p=1/1-2.ndjson.gz"}));
  EXPECT_TRUE(s.list("nothing/")->empty());
  EXPECT_CODE(s.get("missing").status(), kNotFound);
}

TEST_P(ObjectStoreContract, PutAllStoresEachObject) {
  ObjectStore& s = h_->store();
  ASSERT_TRUE(s.put("raw/t/dt=2026-01-02/p=1/5-6.ndjson.gz", "old", {}).isOk());
  std::vector<ObjectPut> objects{
      {"raw/t/dt=2026-01-02/p=0/1-4.ndjson.gz", std::string("\x1f\x8b\0a", 4)},
      {"raw/t/dt=2026-01-02/p=1/5-6.ndjson.gz", "replaced"},
      {"raw/t/dt=2026-01-02/p=2/7-7.ndjson.gz", ""}};
  auto got = s.putAll(objects, {});
  ASSERT_EQ(got.size(), objects.size());
  for (const auto& st : got) EXPECT_TRUE(st.isOk()) << st.toString();
  for (const auto& o : objects) EXPECT_EQ(*s.get(o.key), o.data) << o.key;
  EXPECT_EQ(s.list("raw/t/dt=2026-01-02/")->size(), 3u);
  EXPECT_TRUE(s.putAll({}, {}).empty());
  // A key given twice ends with the later data.
  auto twice = s.putAll({{"lake/twice", "first"}, {"lake/twice", "second"}}, {});
  ASSERT_EQ(twice.size(), 2u);
  EXPECT_TRUE(twice[0].isOk() && twice[1].isOk());
  EXPECT_EQ(*s.get("lake/twice"), "second");
}

// ---------------------------------------------------------------------------------------
struct ChangeSourceHarness {
  virtual ~ChangeSourceHarness() = default;
  virtual ChangeSink& sink() = 0;
  // A consumer of the group; a second call gives a new consumer that starts at the group's
  // committed offsets.
  virtual std::unique_ptr<ChangeSource> consumer(const std::string& group) = 0;
  // A SourceReader of the same topic whose ranges() report this group's commits.
  virtual std::unique_ptr<SourceReader> reader(const std::string& group) = 0;
};
using ChangeSourceHarnessFactory = std::function<std::unique_ptr<ChangeSourceHarness>()>;

class ChangeSourceContract : public ContractTest<ChangeSourceHarness> {
 protected:
  std::vector<SourceRecord> drain(ChangeSource& c, size_t expected) {
    std::vector<SourceRecord> out;
    auto until = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (out.size() < expected && std::chrono::steady_clock::now() < until) {
      auto b = c.poll(100, std::chrono::milliseconds(200));
      if (!b.isOk()) continue;
      for (auto& r : *b) out.push_back(std::move(r));
    }
    return out;
  }
};

TEST_P(ChangeSourceContract, DeliversKeysValuesHeadersAndTombstonesInPartitionOrder) {
  std::vector<ProduceRecord> recs;
  for (int i = 0; i < 30; ++i) {
    ProduceRecord r;
    r.key = "member-" + std::to_string(i % 3);
    r.value = "v" + std::to_string(i);
    r.headers = {{"id", "msg-" + std::to_string(i)}};
    recs.push_back(std::move(r));
  }
  ProduceRecord tomb;
  tomb.key = "member-0";
  recs.push_back(tomb);
  ASSERT_TRUE(h_->sink().append(recs).isOk());
  auto c = h_->consumer("g1");
  auto got = drain(*c, recs.size());
  ASSERT_EQ(got.size(), recs.size());
  std::map<std::string, std::vector<std::string>> perKey;
  std::map<std::string, std::set<int32_t>> partitions;
  for (const auto& r : got) {
    perKey[*r.key].push_back(r.value.value_or("<tombstone>"));
    partitions[*r.key].insert(r.partition);
    if (r.value) {
      ASSERT_EQ(r.headers.size(), 1u);
      EXPECT_EQ(r.headers[0].second, "msg-" + r.value->substr(1));
    }
  }
  for (const auto& [k, ps] : partitions)
    EXPECT_EQ(ps.size(), 1u) << k;  // one member, one partition
  EXPECT_EQ(perKey["member-0"].back(), "<tombstone>");
  for (const auto& [k, vs] : perKey) {
    for (size_t i = 1; i + 1 < vs.size(); ++i) {
      EXPECT_LT(std::stoi(vs[i - 1].substr(1)), std::stoi(vs[i].substr(1))) << k;
    }
  }
}

TEST_P(ChangeSourceContract, ANewConsumerResumesAtTheCommittedOffsets) {
  std::vector<ProduceRecord> recs;
  for (int i = 0; i < 20; ++i)
    recs.push_back({"k" + std::to_string(i), "v" + std::to_string(i), {}, 0, {}});
  ASSERT_TRUE(h_->sink().append(recs).isOk());
  {
    auto c = h_->consumer("g2");
    auto got = drain(*c, 20);
    ASSERT_EQ(got.size(), 20u);
    ASSERT_TRUE(c->commit({{0, got[9].offset + 1}}).isOk());  // only the first ten are done
  }
  auto c2 = h_->consumer("g2");
  auto rest = drain(*c2, 10);
  ASSERT_EQ(rest.size(), 10u);
  EXPECT_EQ(*rest.front().value, "v10");
}

// The reader (reconcile's view): ranges with the group's commit, reads of an offset range and
// by time, and none of it moves the group's consumer.
TEST_P(ChangeSourceContract, AReaderReadsByOffsetAndTimeWithoutMovingTheGroup) {
  int64_t t0 = 1767225600000;  // explicit timestamps, 10 ms apart
  std::vector<ProduceRecord> recs;
  for (int i = 0; i < 12; ++i) {
    ProduceRecord r;
    r.key = "k";
    r.value = "v" + std::to_string(i);
    r.headers = {{"id", "m" + std::to_string(i)}};
    r.partition = 1;
    r.timestampMs = t0 + 10 * i;
    recs.push_back(std::move(r));
  }
  ASSERT_TRUE(h_->sink().append(recs).isOk());
  auto c = h_->consumer("g4");
  auto got = drain(*c, 12);
  ASSERT_EQ(got.size(), 12u);
  int64_t base = got[0].offset;  // Kafka and the log both start at 0; kept general
  ASSERT_TRUE(c->commit({{1, base + 5}}).isOk());

  auto r = h_->reader("g4");
  auto ranges = r->ranges();
  ASSERT_TRUE(ranges.isOk()) << ranges.status().toString();
  ASSERT_TRUE(ranges->count(0) && ranges->count(1));
  EXPECT_EQ(ranges->at(1).low, base);
  EXPECT_EQ(ranges->at(1).high, base + 12);
  EXPECT_EQ(ranges->at(1).committed, base + 5);
  EXPECT_EQ(ranges->at(0).high, ranges->at(0).low);       // empty
  EXPECT_EQ(ranges->at(0).committed, ranges->at(0).low);  // no commit: low

  auto mid = r->read(1, base + 3, base + 8, 100);
  ASSERT_TRUE(mid.isOk()) << mid.status().toString();
  ASSERT_EQ(mid->size(), 5u);
  EXPECT_EQ((*mid)[0].offset, base + 3);
  EXPECT_EQ((*mid)[0].value, "v3");
  EXPECT_EQ((*mid)[0].timestampMs, t0 + 30);
  ASSERT_FALSE((*mid)[0].headers.empty());
  EXPECT_EQ((*mid)[0].headers[0].second, "m3");
  EXPECT_EQ((*mid)[4].offset, base + 7);
  auto two = r->read(1, base, base + 12, 2);
  ASSERT_TRUE(two.isOk());
  EXPECT_EQ(two->size(), 2u);
  auto none = r->read(0, 0, 100, 10);
  ASSERT_TRUE(none.isOk());
  EXPECT_TRUE(none->empty());

  EXPECT_EQ(*r->offsetForTime(1, t0 - 1000), base);
  EXPECT_EQ(*r->offsetForTime(1, t0 + 35), base + 4);  // the first at or after the time
  EXPECT_EQ(*r->offsetForTime(1, t0 + 40), base + 4);
  EXPECT_EQ(*r->offsetForTime(1, t0 + 100000), base + 12);  // none: the end

  // The group did not move: a new consumer resumes at the commit.
  c.reset();
  auto c2 = h_->consumer("g4");
  auto rest = drain(*c2, 7);
  ASSERT_EQ(rest.size(), 7u);
  EXPECT_EQ(rest[0].offset, base + 5);
}

TEST_P(ChangeSourceContract, RewindRedeliversWhatWasNotCommitted) {
  std::vector<ProduceRecord> recs;
  for (int i = 0; i < 5; ++i) recs.push_back({"k", "v" + std::to_string(i), {}, 0, {}});
  ASSERT_TRUE(h_->sink().append(recs).isOk());
  auto c = h_->consumer("g3");
  auto got = drain(*c, 5);
  ASSERT_EQ(got.size(), 5u);
  ASSERT_TRUE(c->commit({{0, got[1].offset + 1}}).isOk());
  ASSERT_TRUE(c->rewindToCommitted().isOk());
  auto again = drain(*c, 3);
  ASSERT_EQ(again.size(), 3u);
  EXPECT_EQ(*again.front().value, "v2");
}

TEST_P(ChangeSourceContract, EmptyPollReturnsAfterTheWait) {
  auto c = h_->consumer("g4");
  auto start = std::chrono::steady_clock::now();
  auto b = c->poll(10, std::chrono::milliseconds(100));
  ASSERT_TRUE(b.isOk());
  EXPECT_TRUE(b->empty());
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
}

// ---------------------------------------------------------------------------------------
struct MemberStoreHarness {
  virtual ~MemberStoreHarness() = default;
  virtual MemberStore& store() = 0;
  // Whether several relays may claim the outbox at once (the embedded store has one relay).
  virtual bool severalRelays() const { return false; }
};
using MemberStoreHarnessFactory = std::function<std::unique_ptr<MemberStoreHarness>()>;

Member sampleMember(const std::string& id, const std::string& last = "Lovelace");

class MemberStoreContract : public ContractTest<MemberStoreHarness> {
 protected:
  Result<WriteOutcome> put(const std::string& id, const Member& m, std::optional<int64_t> seq,
                           std::optional<std::string> key = std::nullopt,
                           WriteKind kind = WriteKind::kPut) {
    StoreWrite w;
    w.kind = kind;
    w.memberId = id;
    w.content = [m](const StoredMember*) -> Result<Member> { return m; };
    w.sourceSequence = seq;
    w.idempotencyKey = key;
    w.requestFingerprint = "fp-" + m.name.last;
    w.lineage = json::object{{"via", "test"}};
    w.nowMs = now_++;
    return h_->store().apply(w);
  }
  Result<WriteOutcome> del(const std::string& id, std::optional<int64_t> seq) {
    StoreWrite w;
    w.kind = WriteKind::kDelete;
    w.memberId = id;
    w.sourceSequence = seq;
    w.lineage = json::object{{"via", "test"}};
    w.nowMs = now_++;
    return h_->store().apply(w);
  }
  int64_t now_ = 1767225600000;
};

inline Member sampleMember(const std::string& id, const std::string& last) {
  Member m;
  m.memberId = id;
  m.name.first = "Ada";
  m.name.last = last;
  m.birthDate = "1990-01-31";
  m.gender = Gender::kFemale;
  m.status = MemberStatus::kActive;
  return m;
}

TEST_P(MemberStoreContract, CreateUpdateNoOpAndStale) {
  auto c = put("M1", sampleMember("M1"), 10);
  ASSERT_TRUE(c.isOk());
  EXPECT_EQ(c->result, WriteResult::kCreated);
  EXPECT_EQ(c->member->version, 1);
  EXPECT_FALSE(c->eventId.empty());
  auto u = put("M1", sampleMember("M1", "Byron"), 20);
  EXPECT_EQ(u->result, WriteResult::kUpdated);
  EXPECT_EQ(u->member->version, 2);
  auto n = put("M1", sampleMember("M1", "Byron"), 30);
  EXPECT_EQ(n->result, WriteResult::kNoOp);
  EXPECT_TRUE(n->eventId.empty());
  // The no-op recorded its sequence: an older change is now stale.
  EXPECT_EQ(put("M1", sampleMember("M1", "Older"), 25)->result, WriteResult::kStale);
  EXPECT_EQ(put("M1", sampleMember("M1", "Same"), 30)->result, WriteResult::kStale);
  auto g = h_->store().get("M1");
  ASSERT_TRUE(g.isOk());
  EXPECT_EQ(g->member.name.last, "Byron");
  EXPECT_EQ(g->version, 2);
  EXPECT_EQ(g->sourceSequence, 30);
}

TEST_P(MemberStoreContract, DeleteLeavesATombstoneThatStopsOlderChanges) {
  ASSERT_TRUE(put("M2", sampleMember("M2"), 10).isOk());
  auto d = del("M2", 20);
  EXPECT_EQ(d->result, WriteResult::kDeleted);
  EXPECT_FALSE(d->eventId.empty());
  EXPECT_TRUE(h_->store().get("M2")->deleted);
  EXPECT_EQ(put("M2", sampleMember("M2", "Late"), 15)->result, WriteResult::kStale);
  EXPECT_EQ(del("M2", 21)->result, WriteResult::kNotFound);
  auto again = put("M2", sampleMember("M2", "Back"), 30);
  EXPECT_EQ(again->result, WriteResult::kCreated);
  EXPECT_EQ(again->member->version, 3);  // versions keep counting across the delete
}

TEST_P(MemberStoreContract, DeleteOfAnUnknownMemberStillGuardsItsSequence) {
  EXPECT_EQ(del("M3", 50)->result, WriteResult::kNotFound);
  EXPECT_EQ(put("M3", sampleMember("M3"), 40)->result, WriteResult::kStale);
  EXPECT_EQ(put("M3", sampleMember("M3"), 60)->result, WriteResult::kCreated);
}

TEST_P(MemberStoreContract, IdempotencyKeyReplaysAndDetectsReuse) {
  auto first = put("M4", sampleMember("M4"), std::nullopt, "key-1");
  EXPECT_EQ(first->result, WriteResult::kCreated);
  auto replay = put("M4", sampleMember("M4"), std::nullopt, "key-1");
  EXPECT_EQ(replay->result, WriteResult::kReplayed);
  EXPECT_EQ(replay->replayed, WriteResult::kCreated);  // what the first write did,
  ASSERT_TRUE(replay->member.has_value());             // with the member it left
  EXPECT_EQ(replay->member->version, 1);
  EXPECT_EQ(replay->member->member, sampleMember("M4"));
  auto reuse = put("M4", sampleMember("M4", "Other"), std::nullopt, "key-1");
  EXPECT_EQ(reuse->result, WriteResult::kKeyReused);
  EXPECT_EQ(h_->store().get("M4")->version, 1);
}

// A write whose response carries no member (Prefer: return=minimal) keeps only the version
// under its key: a repeat is replayed minimally, with the version for the ETag and no member
// (the key holds no copy of the member's data). Alone and in a batch alike.
TEST_P(MemberStoreContract, AMinimalResponseIsReplayedWithItsVersionAlone) {
  auto minimalPut = [&](const std::string& id, const std::string& key) {
    StoreWrite w;
    w.memberId = id;
    Member m = sampleMember(id);
    w.content = [m](const StoredMember*) -> Result<Member> { return m; };
    w.idempotencyKey = key;
    w.requestFingerprint = "fp-" + key;
    w.minimalResponse = true;
    w.lineage = json::object{{"via", "test"}};
    w.nowMs = now_++;
    return w;
  };
  ASSERT_TRUE(put("MR", sampleMember("MR", "Before"), std::nullopt).isOk());
  StoreWrite alone = minimalPut("MR", "mr-1");
  auto first = h_->store().apply(alone);
  ASSERT_TRUE(first.isOk()) << first.status().toString();
  EXPECT_EQ(first->result, WriteResult::kUpdated);
  ASSERT_TRUE(first->member.has_value());  // the write itself still reports the member
  EXPECT_EQ(first->member->member, sampleMember("MR"));
  StoreWrite inBatch = minimalPut("MB", "mb-1");
  ASSERT_TRUE(h_->store().applyAll({&inBatch}).front().isOk());
  for (auto [w, version] : {std::pair{&alone, 2}, std::pair{&inBatch, 1}}) {
    w->nowMs = now_++;
    auto again = h_->store().applyAll({w}).front();
    ASSERT_TRUE(again.isOk()) << again.status().toString();
    EXPECT_EQ(again->result, WriteResult::kReplayed) << w->memberId;
    EXPECT_EQ(again->replayed, w == &alone ? WriteResult::kUpdated : WriteResult::kCreated);
    EXPECT_TRUE(again->replayedMinimal);
    ASSERT_TRUE(again->member.has_value());
    EXPECT_EQ(again->member->version, version);
    EXPECT_EQ(again->member->member, Member{}) << "the key kept a copy of the member";
  }
  // A full response is still replayed with its member.
  ASSERT_TRUE(put("MF", sampleMember("MF"), std::nullopt, "mf-1").isOk());
  auto full = put("MF", sampleMember("MF"), std::nullopt, "mf-1");
  ASSERT_TRUE(full.isOk()) << full.status().toString();
  EXPECT_EQ(full->result, WriteResult::kReplayed);
  EXPECT_FALSE(full->replayedMinimal);
  EXPECT_EQ(full->member->member, sampleMember("MF"));
}

// applyAll (the API's batch write): each write exactly as apply() would, in order, a later
// write of a member seeing the earlier ones of the same batch.
TEST_P(MemberStoreContract, ABatchAppliesEachWriteInOrderAsApplyWould) {
  auto write = [&](const std::string& id, std::optional<std::string> last, int64_t seq,
                   std::optional<std::string> key) {
    StoreWrite w;
    w.kind = last ? WriteKind::kPut : WriteKind::kDelete;
    w.memberId = id;
    if (last) {
      Member m = sampleMember(id, *last);
      w.content = [m](const StoredMember*) -> Result<Member> { return m; };
      w.requestFingerprint = "fp-" + *last;
    }
    w.sourceSequence = seq;
    w.idempotencyKey = key;
    w.lineage = json::object{{"via", "test"}};
    w.nowMs = now_++;
    return w;
  };
  std::vector<StoreWrite> first{
      write("B1", "One", 10, "b-1"),
      write("B1", "One", 10, "b-1"),   // the same key again within the batch: replayed
      write("B1", "Older", 5, "b-2"),  // stale behind the first write of this batch
      write("B2", "Two", 10, "b-3"),
      write("B2", std::nullopt, 11, "b-4"),  // deleted after its put in this batch
      write("B3", "Bad", 10, "b-5"),         // invalid content: fails alone
      write("B4", "Four", 10, "b-6")};
  first[5].content = [](const StoredMember*) -> Result<Member> {
    return Status::invalidArgument("invalid_date: birthDate");
  };
  std::vector<const StoreWrite*> ptrs;
  for (const auto& w : first) ptrs.push_back(&w);
  auto out = h_->store().applyAll(ptrs);
  ASSERT_EQ(out.size(), first.size());
  std::vector<WriteResult> got;
  for (const auto& o : out) {
    ASSERT_TRUE(o.isOk()) << o.status().toString();
    got.push_back(o->result);
  }
  EXPECT_EQ(got, (std::vector<WriteResult>{WriteResult::kCreated, WriteResult::kReplayed,
                                           WriteResult::kStale, WriteResult::kCreated,
                                           WriteResult::kDeleted, WriteResult::kInvalid,
                                           WriteResult::kCreated}));
  EXPECT_EQ(h_->store().get("B1")->version, 1);
  EXPECT_TRUE(h_->store().get("B2")->deleted);
  EXPECT_EQ(h_->store().get("B3").status().code(), Code::kNotFound);
  EXPECT_EQ(h_->store().get("B4")->member.name.last, "Four");
  // The next batch re-creates the member the last one deleted.
  std::vector<StoreWrite> second{write("B2", "Again", 12, "b-7")};
  auto again = h_->store().applyAll({&second[0]});
  ASSERT_EQ(again.size(), 1u);
  ASSERT_TRUE(again[0].isOk());
  EXPECT_EQ(again[0]->result, WriteResult::kCreated);
  EXPECT_EQ(again[0]->member->version, 3);
  // One event per applied change: B1's create, B2's create, delete and re-create, B4's create.
  auto ob = h_->store().outbox(100);
  ASSERT_TRUE(ob.isOk());
  size_t events = 0;
  for (const auto& e : *ob) {
    if (e.memberId.rfind("B", 0) == 0) ++events;
  }
  EXPECT_EQ(events, 5u);
}

TEST_P(MemberStoreContract, FailedWritesAreNotReplayedUnderTheirKey) {
  ASSERT_TRUE(put("M8", sampleMember("M8"), 10).isOk());
  // A stale write under a key: nothing stored, so a retry is judged again, not replayed.
  EXPECT_EQ(put("M8", sampleMember("M8", "Late"), 5, "key-stale")->result, WriteResult::kStale);
  EXPECT_EQ(put("M8", sampleMember("M8", "Late"), 5, "key-stale")->result, WriteResult::kStale);
}

TEST_P(MemberStoreContract, IfMatchAndCreateConflicts) {
  ASSERT_TRUE(put("M5", sampleMember("M5"), std::nullopt).isOk());
  StoreWrite w;
  w.kind = WriteKind::kPut;
  w.memberId = "M5";
  w.content = [](const StoredMember*) -> Result<Member> { return sampleMember("M5", "X"); };
  w.ifMatchVersion = 7;
  w.lineage = json::object{};
  w.nowMs = now_;
  EXPECT_EQ(h_->store().apply(w)->result, WriteResult::kPreconditionFailed);
  w.ifMatchVersion = 1;
  EXPECT_EQ(h_->store().apply(w)->result, WriteResult::kUpdated);
  EXPECT_EQ(put("M5", sampleMember("M5"), std::nullopt, std::nullopt, WriteKind::kCreate)->result,
            WriteResult::kAlreadyExists);
}

TEST_P(MemberStoreContract, PatchSeesTheCurrentMember) {
  ASSERT_TRUE(put("M6", sampleMember("M6"), std::nullopt).isOk());
  StoreWrite w;
  w.kind = WriteKind::kPatch;
  w.memberId = "M6";
  w.content = [](const StoredMember* cur) -> Result<Member> {
    if (!cur) return Status::internal("no current member");
    Member m = cur->member;
    m.status = MemberStatus::kInactive;
    return m;
  };
  w.lineage = json::object{};
  w.nowMs = now_;
  auto r = h_->store().apply(w);
  EXPECT_EQ(r->result, WriteResult::kUpdated);
  EXPECT_EQ(r->member->member.status, MemberStatus::kInactive);
  w.memberId = "nobody";
  EXPECT_EQ(h_->store().apply(w)->result, WriteResult::kNotFound);
}

TEST_P(MemberStoreContract, HistoryAndOutboxFollowAppliedChanges) {
  ASSERT_TRUE(put("M7", sampleMember("M7"), 1).isOk());
  ASSERT_TRUE(put("M7", sampleMember("M7", "B"), 2).isOk());
  ASSERT_TRUE(put("M7", sampleMember("M7", "B"), 3).isOk());  // no-op: no history, no event
  ASSERT_TRUE(del("M7", 4).isOk());
  auto h = h_->store().history("M7");
  ASSERT_TRUE(h.isOk());
  ASSERT_EQ(h->size(), 3u);
  EXPECT_EQ((*h)[0].op, "created");
  EXPECT_EQ((*h)[1].op, "updated");
  EXPECT_EQ((*h)[1].changedFields, std::vector<std::string>{"name.last"});
  EXPECT_EQ((*h)[2].op, "deleted");
  EXPECT_EQ((*h)[2].lineage.at("via").as_string(), "test");
  auto ob = h_->store().outbox(100);
  ASSERT_TRUE(ob.isOk());
  std::vector<std::string> types;
  for (const auto& e : *ob) {
    if (e.memberId != "M7") continue;
    auto ev = json::parse(e.event).as_object();
    types.emplace_back(ev.at("type").as_string());
    EXPECT_EQ(ev.at("id").as_string(), e.eventId);
  }
  EXPECT_EQ(types,
            (std::vector<std::string>{"member.created", "member.updated", "member.deleted"}));
  std::vector<int64_t> seqs;
  for (const auto& e : *ob) seqs.push_back(e.seq);
  EXPECT_EQ(*h_->store().outboxCount(), static_cast<int64_t>(seqs.size()));
  ASSERT_TRUE(h_->store().deleteOutbox(seqs).isOk());
  EXPECT_TRUE(h_->store().outbox(100)->empty());
  EXPECT_EQ(*h_->store().outboxCount(), 0);
  EXPECT_CODE(h_->store().history("never").status(), kNotFound);
}

// What `reconcile` reads: every history row with its member, and what each sourced write that
// left no history row did, both in commit order and paged.
TEST_P(MemberStoreContract, ScansHistoryAndTheOutcomesOfSourcedWritesInOrder) {
  auto sourced = [&](const std::string& id, std::optional<Member> m, int64_t seq,
                     const std::string& messageId) {
    StoreWrite w;
    w.kind = m ? WriteKind::kPut : WriteKind::kDelete;
    w.memberId = id;
    if (m) w.content = [m](const StoredMember*) -> Result<Member> { return *m; };
    w.sourceSequence = seq;
    w.messageId = messageId;
    w.lineage = json::object{{"topic", "t"}, {"partition", 0}, {"offset", seq}};
    w.nowMs = now_++;
    return h_->store().apply(w);
  };
  EXPECT_EQ(sourced("S1", sampleMember("S1"), 10, "m-create")->result, WriteResult::kCreated);
  EXPECT_EQ(sourced("S1", sampleMember("S1", "B"), 20, "m-update")->result, WriteResult::kUpdated);
  EXPECT_EQ(sourced("S1", sampleMember("S1", "B"), 30, "m-noop")->result, WriteResult::kNoOp);
  EXPECT_EQ(sourced("S1", sampleMember("S1", "C"), 25, "m-stale")->result, WriteResult::kStale);
  EXPECT_EQ(sourced("S2", std::nullopt, 5, "m-gone")->result, WriteResult::kNotFound);
  EXPECT_EQ(put("S1", sampleMember("S1", "D"), 1)->result, WriteResult::kStale);  // no message id

  std::vector<HistoryRow> rows;
  for (int64_t after = 0;;) {
    auto page = h_->store().scanHistory(after, 1);
    ASSERT_TRUE(page.isOk()) << page.status().toString();
    if (page->empty()) break;
    ASSERT_EQ(page->size(), 1u);
    after = page->back().seq;
    rows.push_back(page->front());
  }
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_LT(rows[0].seq, rows[1].seq);
  EXPECT_EQ(rows[0].memberId, "S1");
  EXPECT_EQ(rows[0].entry.messageId, "m-create");
  EXPECT_EQ(rows[1].entry.messageId, "m-update");
  EXPECT_EQ(rows[1].entry.version, 2);
  EXPECT_FALSE(rows[1].entry.eventId.empty());
  EXPECT_EQ(rows[1].entry.lineage.at("offset").as_int64(), 20);

  auto outcomes = h_->store().scanOutcomes(0, 100);
  ASSERT_TRUE(outcomes.isOk()) << outcomes.status().toString();
  std::vector<std::string> got;
  for (const auto& o : *outcomes) got.push_back(o.messageId + ":" + o.memberId + ":" + o.result);
  EXPECT_EQ(
      got, (std::vector<std::string>{"m-noop:S1:noop", "m-stale:S1:stale", "m-gone:S2:not_found"}));
  auto rest = h_->store().scanOutcomes((*outcomes)[1].seq, 100);
  ASSERT_TRUE(rest.isOk());
  ASSERT_EQ(rest->size(), 1u);
  EXPECT_EQ(rest->front().messageId, "m-gone");

  // One member's outcome rows (the console's lineage), and the history's high-water mark.
  auto mine = h_->store().outcomesOf("S1");
  ASSERT_TRUE(mine.isOk()) << mine.status().toString();
  got.clear();
  for (const auto& o : *mine) got.push_back(o.messageId + ":" + o.result);
  EXPECT_EQ(got, (std::vector<std::string>{"m-noop:noop", "m-stale:stale"}));
  EXPECT_TRUE(h_->store().outcomesOf("nobody")->empty());
  auto high = h_->store().historyHighWater();
  ASSERT_TRUE(high.isOk()) << high.status().toString();
  EXPECT_EQ(*high, rows.back().seq);
}

TEST_P(MemberStoreContract, ListUpdatedPagesWithACursor) {
  for (int i = 0; i < 7; ++i) {
    ASSERT_TRUE(
        put("L" + std::to_string(i), sampleMember("L" + std::to_string(i)), std::nullopt).isOk());
  }
  ASSERT_TRUE(del("L3", std::nullopt).isOk());
  std::vector<std::string> ids;
  std::string cursor;
  int pages = 0;
  do {
    auto p = h_->store().listUpdated(0, cursor, 2);
    ASSERT_TRUE(p.isOk());
    for (const auto& m : p->members) ids.push_back(m.member.memberId);
    cursor = p->nextCursor;
    ++pages;
  } while (!cursor.empty() && pages < 10);
  EXPECT_EQ(ids, (std::vector<std::string>{"L0", "L1", "L2", "L4", "L5", "L6"}));
  EXPECT_CODE(h_->store().listUpdated(0, "%%%", 2).status(), kInvalidArgument);
}

TEST_P(MemberStoreContract, ConcurrentWritersNeverLoseTheNewestChange) {
  constexpr int kThreads = 4, kPerThread = 50;
  std::vector<std::thread> ts;
  std::atomic<int> applied{0};
  for (int t = 0; t < kThreads; ++t) {
    ts.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        int64_t seq = i * kThreads + t + 1;
        StoreWrite w;
        w.memberId = "C1";
        Member m = sampleMember("C1", "V" + std::to_string(seq));
        w.content = [m](const StoredMember*) -> Result<Member> { return m; };
        w.sourceSequence = seq;
        w.lineage = json::object{};
        w.nowMs = 1;
        auto r = h_->store().apply(w);
        if (r.isOk() &&
            (r->result == WriteResult::kCreated || r->result == WriteResult::kUpdated)) {
          ++applied;
        }
      }
    });
  }
  for (auto& t : ts) t.join();
  auto g = h_->store().get("C1");
  ASSERT_TRUE(g.isOk());
  EXPECT_EQ(g->sourceSequence, kThreads * kPerThread);
  EXPECT_EQ(g->member.name.last, "V" + std::to_string(kThreads * kPerThread));
  EXPECT_EQ(g->version, applied.load());  // one version, and one event, per applied change
  size_t events = 0;
  auto outbox = h_->store().outbox(100000);
  ASSERT_TRUE(outbox.isOk());
  for (const auto& e : *outbox) events += e.memberId == "C1";
  EXPECT_EQ(static_cast<int64_t>(events), g->version);
}

// Two relays at once: no member's events are split between open claims, and each claim holds
// a member's events oldest first; what one claim leaves, the next one gets.
TEST_P(MemberStoreContract, OutboxClaimsOfTwoRelaysNeverShareAMember) {
  if (!h_->severalRelays()) GTEST_SKIP() << "one relay per store";
  for (int round = 1; round <= 3; ++round) {
    for (const char* id : {"R1", "R2", "R3", "R4"}) {
      ASSERT_TRUE(put(id, sampleMember(id, "V" + std::to_string(round)), round).isOk());
    }
  }
  auto a = h_->store().claimOutbox(2);
  ASSERT_TRUE(a.isOk()) << a.status().toString();
  auto b = h_->store().claimOutbox(100);
  ASSERT_TRUE(b.isOk()) << b.status().toString();
  std::map<std::string, std::vector<int64_t>> ofA, ofB;
  for (const auto& e : (*a)->entries)
    ofA[e.memberId].push_back(json::parse(e.event).at("data").at("version").as_int64());
  for (const auto& e : (*b)->entries)
    ofB[e.memberId].push_back(json::parse(e.event).at("data").at("version").as_int64());
  EXPECT_FALSE(ofA.empty());
  EXPECT_FALSE(ofB.empty());
  for (const auto& [m, v] : ofA) EXPECT_FALSE(ofB.count(m)) << m << " in both claims";
  // A claim's events of a member start at the member's oldest and have no gaps.
  for (auto* claim : {&ofA, &ofB}) {
    for (const auto& [m, v] : *claim) {
      for (size_t i = 0; i < v.size(); ++i) EXPECT_EQ(v[i], static_cast<int64_t>(i + 1)) << m;
    }
  }
  ASSERT_TRUE((*b)->done().isOk());
  a->reset();  // dropped without done(): its rows stay for the next claim
  auto c = h_->store().claimOutbox(100);
  ASSERT_TRUE(c.isOk());
  std::set<std::string> rest;
  for (const auto& e : (*c)->entries) rest.insert(e.memberId);
  EXPECT_EQ(rest, (std::set<std::string>{"R1", "R2"}));  // the members of the dropped claim
  EXPECT_EQ((*c)->entries.size(), 6u);
  ASSERT_TRUE((*c)->done().isOk());
  EXPECT_EQ(*h_->store().outboxCount(), 0);
}

// ---------------------------------------------------------------------------------------
struct SecretsHarness {
  virtual ~SecretsHarness() = default;
  virtual Secrets& secrets() = 0;
  // Stores a secret by the adapter's own means (file, environment, Secrets Manager).
  virtual void put(const std::string& name, const std::string& value) = 0;
};
using SecretsHarnessFactory = std::function<std::unique_ptr<SecretsHarness>()>;

class SecretsContract : public ContractTest<SecretsHarness> {
 protected:
};

TEST_P(SecretsContract, ReturnsStoredValuesExactly) {
  h_->put("sync-client-secret", "s3cr3t\nwith newline");
  auto v = h_->secrets().get("sync-client-secret");
  ASSERT_TRUE(v.isOk()) << v.status().toString();
  EXPECT_EQ(*v, "s3cr3t\nwith newline");
}

TEST_P(SecretsContract, UnknownSecretIsNotFoundAndTheErrorHoldsNoValue) {
  h_->put("present", "value-that-must-not-leak");
  auto v = h_->secrets().get("absent");
  EXPECT_CODE(v.status(), kNotFound);
  EXPECT_EQ(v.status().message().find("value-that-must-not-leak"), std::string::npos);
}

// ---------------------------------------------------------------------------------------
struct TopicHarness {
  virtual ~TopicHarness() = default;
  // A topic whose subscriptions are the two queues below.
  virtual Topic& topic() = 0;
  virtual Queue& subscription(int i) = 0;  // 0 or 1
};
using TopicHarnessFactory = std::function<std::unique_ptr<TopicHarness>()>;

class TopicContract : public ContractTest<TopicHarness> {
 protected:
  std::vector<std::string> drain(Queue& q, size_t n) {
    std::vector<std::string> out;
    auto until = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (out.size() < n && std::chrono::steady_clock::now() < until) {
      auto got = q.receive(10, 30000, 1000);
      if (!got.isOk()) continue;
      std::vector<std::string> receipts;
      for (const auto& m : *got) {
        out.push_back(m.groupId + ":" + m.body);
        receipts.push_back(m.receiptHandle);
      }
      (void)q.remove(receipts);
    }
    return out;
  }
};

TEST_P(TopicContract, EverySubscriptionGetsEveryMessageInGroupOrderOnce) {
  std::vector<OutgoingMessage> batch;
  for (int i = 0; i < 12; ++i) {
    std::string g = i % 2 ? "M1" : "M2";
    batch.push_back({g, "e" + std::to_string(i), "v" + std::to_string(i), {}});
  }
  ASSERT_TRUE(h_->topic().publish(batch).isOk());
  ASSERT_TRUE(h_->topic().publish({batch[0], batch[5]}).isOk());  // a relay's repeat: dropped
  for (int s = 0; s < 2; ++s) {
    auto got = drain(h_->subscription(s), 12);
    ASSERT_EQ(got.size(), 12u) << "subscription " << s;
    std::vector<std::string> m1, m2;
    for (const auto& x : got) (x.rfind("M1:", 0) == 0 ? m1 : m2).push_back(x.substr(3));
    EXPECT_EQ(m1, (std::vector<std::string>{"v1", "v3", "v5", "v7", "v9", "v11"}));
    EXPECT_EQ(m2, (std::vector<std::string>{"v0", "v2", "v4", "v6", "v8", "v10"}));
    EXPECT_TRUE(h_->subscription(s).receive(10, 1000, 0)->empty());
  }
}

// ---------------------------------------------------------------------------------------
// EventBus (ports/event_bus.h): one status per entry; an accepted entry is delivered to the
// targets of the rules it matches, at least once, carrying its event id; a repeat (a failed
// entry put again) is accepted and deduplicated by that id.
struct EventBusHarness {
  virtual ~EventBusHarness() = default;
  // A bus built from eventBusRules(): the events of detail-type "member.deleted" from a
  // source starting with "memberflow/" go to one queue target, with the CloudEvent
  // ($.detail) as the input.
  virtual EventBus& bus() = 0;
  // The CloudEvents that reached the target since the last call, in arrival order. Waits
  // until at least n arrived or a deadline (seconds) passed.
  virtual std::vector<json::value> arrivals(size_t n) = 0;
};
using EventBusHarnessFactory = std::function<std::unique_ptr<EventBusHarness>()>;

// The rules file of the harness's bus `bus`, its target the queue `queue`.
inline std::string eventBusRules(const std::string& bus, const std::string& queue) {
  return R"({"targets":[{"name":"audit","type":"queue","queue":")" + queue +
         R"("}],"rules":[{"name":")" + bus + R"(-deletes","bus":")" + bus +
         R"(","targets":["audit"],"inputPath":"$.detail","pattern":{"detail-type":["member.deleted"],)"
         R"("source":[{"prefix":"memberflow/"}]}}]})";
}

class EventBusContract : public ContractTest<EventBusHarness> {
 protected:
  // A CloudEvent of member `member`, as the route stage puts it.
  static BusEntry entry(const std::string& id, const std::string& member,
                        const std::string& type = "member.deleted") {
    std::string detail = R"({"specversion":"1.0","id":")" + id + R"(","type":")" + type +
                         R"(","subject":")" + member + R"(","data":{"memberId":")" + member +
                         R"("}})";
    return {id, "memberflow/member-api", type, detail, "2026-11-24T13:29:16.853Z", member};
  }
  static std::string idOf(const json::value& event) {
    const json::value* id = event.is_object() ? event.as_object().if_contains("id") : nullptr;
    return id && id->is_string() ? std::string(id->as_string()) : std::string("<no id>");
  }
  static std::set<std::string> ids(const std::vector<json::value>& events) {
    std::set<std::string> out;
    for (const auto& e : events) out.insert(idOf(e));
    return out;
  }
  static void expectAllOk(const Result<std::vector<Status>>& r, size_t n) {
    ASSERT_TRUE(r.isOk()) << r.status().toString();
    ASSERT_EQ(r->size(), n);
    for (const auto& s : *r) EXPECT_TRUE(s.isOk()) << s.toString();
  }
};

TEST_P(EventBusContract, AnAcceptedEntryReachesItsTargetWithItsEventIdAndContent) {
  std::vector<BusEntry> put = {entry("e1", "M1"), entry("e2", "M2"), entry("e3", "M1")};
  expectAllOk(h_->bus().put(put), 3);
  auto got = h_->arrivals(3);
  EXPECT_EQ(ids(got), (std::set<std::string>{"e1", "e2", "e3"}));
  for (const auto& e : put) {
    for (const auto& a : got) {
      if (idOf(a) == e.eventId) {
        EXPECT_EQ(a, json::parse(e.detail)) << e.eventId;
      }
    }
  }
}

TEST_P(EventBusContract, OneStatusPerEntryAlsoBeyondOneBatch) {
  std::vector<BusEntry> put;
  std::set<std::string> want;
  for (int i = 0; i < 23; ++i) {  // EventBridge takes 10 entries per call
    put.push_back(entry("b" + std::to_string(i), "M" + std::to_string(i % 4)));
    want.insert(put.back().eventId);
  }
  expectAllOk(h_->bus().put(put), 23);
  EXPECT_EQ(ids(h_->arrivals(23)), want);
}

TEST_P(EventBusContract, AnEmptyPutReturnsNoStatuses) {
  auto r = h_->bus().put({});
  ASSERT_TRUE(r.isOk()) << r.status().toString();
  EXPECT_TRUE(r->empty());
}

// A caller that saw a failure puts the entry again: the repeat is accepted, and what reaches
// the target can be deduplicated by the event id without losing content.
TEST_P(EventBusContract, ARepeatedEntryIsAcceptedAndDeduplicatedByItsEventId) {
  expectAllOk(h_->bus().put({entry("r1", "M1"), entry("r2", "M2")}), 2);
  expectAllOk(h_->bus().put({entry("r1", "M1")}), 1);
  auto got = h_->arrivals(2);
  EXPECT_EQ(ids(got), (std::set<std::string>{"r1", "r2"}));
  for (const auto& a : got) {
    if (idOf(a) == "r1") {
      EXPECT_EQ(a, json::parse(entry("r1", "M1").detail));
    }
  }
}

TEST_P(EventBusContract, AnEntryNoRuleMatchesIsAcceptedAndNotDelivered) {
  // Put in one call: the matching entry arrives, and the other one was handled with it.
  std::vector<BusEntry> put = {entry("u1", "M1", "member.updated"), entry("d1", "M1")};
  put[0].source = "memberflow/member-api";
  BusEntry foreign = entry("f1", "M2");
  foreign.source = "billing/invoices";
  put.push_back(foreign);
  expectAllOk(h_->bus().put(put), 3);
  auto got = h_->arrivals(1);
  EXPECT_EQ(ids(got), std::set<std::string>{"d1"});
}

// ---------------------------------------------------------------------------------------
// LakeJournal (ports/lake_journal.h): the lake stage's write-ahead record.
struct LakeJournalHarness {
  virtual ~LakeJournalHarness() = default;
  virtual LakeJournal& journal() = 0;
  // The journal as a process started after a crash sees it: the same storage, opened again.
  // References from journal() before the call are invalid afterwards.
  virtual LakeJournal& restart() = 0;
};
using LakeJournalHarnessFactory = std::function<std::unique_ptr<LakeJournalHarness>()>;

class LakeJournalContract : public ContractTest<LakeJournalHarness> {
 protected:
  static std::vector<std::string> keys(const std::vector<StagedObject>& objects) {
    std::vector<std::string> out;
    for (const auto& o : objects) out.push_back(o.key);
    return out;
  }
};

TEST_P(LakeJournalContract, ReservedNumbersAreConsecutiveAndOnlyGrowAlsoAcrossARestart) {
  auto a = h_->journal().reserve(3);
  auto b = h_->journal().reserve(1);
  auto c = h_->journal().reserve(5);
  ASSERT_TRUE(a.isOk() && b.isOk() && c.isOk());
  EXPECT_GE(*b, *a + 3);  // a, a+1, a+2 are the first reservation's
  EXPECT_GE(*c, *b + 1);
  auto d = h_->restart().reserve(1);
  ASSERT_TRUE(d.isOk()) << d.status().toString();
  EXPECT_GE(*d, *c + 5);
}

TEST_P(LakeJournalContract, ConcurrentReservationsNeverOverlap) {
  LakeJournal& j = h_->journal();
  std::mutex mu;
  std::vector<int64_t> numbers;
  std::atomic<int> failures{0};
  std::atomic<size_t> requested{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 25; ++i) {
        size_t n = static_cast<size_t>(1 + (i + t) % 3);
        requested += n;
        auto first = j.reserve(n);
        if (!first.isOk()) {
          ++failures;
          continue;
        }
        std::lock_guard lock(mu);
        for (size_t k = 0; k < n; ++k) numbers.push_back(*first + static_cast<int64_t>(k));
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(std::set<int64_t>(numbers.begin(), numbers.end()).size(), numbers.size());
  EXPECT_EQ(numbers.size(), requested.load());
  EXPECT_EQ(requested.load(), 199u);  // 4 threads x 25 reservations of 1 to 3 numbers
}

TEST_P(LakeJournalContract, StagedEventsArePlacedAndTheObjectIsListedUntilWritten) {
  LakeJournal& j = h_->journal();
  EXPECT_EQ(*j.placed({"e1", "e2", "e3"}), (std::vector<bool>{false, false, false}));
  ASSERT_TRUE(j.stage({"lake/k1", "line1\nline2\n"}, {"e1", "e2"}).isOk());
  EXPECT_EQ(*j.placed({"e1", "e2", "e3"}), (std::vector<bool>{true, true, false}));
  auto staged = j.staged();
  ASSERT_TRUE(staged.isOk());
  ASSERT_EQ(keys(*staged), std::vector<std::string>{"lake/k1"});
  EXPECT_EQ((*staged)[0].content, "line1\nline2\n");
  ASSERT_TRUE(j.written("lake/k1").isOk());
  EXPECT_TRUE(j.staged()->empty());
  EXPECT_EQ(*j.placed({"e1", "e2", "e3"}), (std::vector<bool>{true, true, false}));  // still placed
  EXPECT_TRUE(j.written("lake/k1").isOk());                                          // idempotent
  EXPECT_TRUE(j.staged()->empty());
}

TEST_P(LakeJournalContract, StagingAPlacedEventIsAlreadyExistsAndRecordsNothing) {
  LakeJournal& j = h_->journal();
  ASSERT_TRUE(j.stage({"lake/k1", "a"}, {"e1"}).isOk());
  EXPECT_CODE(j.stage({"lake/k2", "b"}, {"e2", "e1"}), kAlreadyExists);
  EXPECT_EQ(*j.placed({"e2"}), std::vector<bool>{false});  // nothing of the refused object
  EXPECT_EQ(keys(*j.staged()), std::vector<std::string>{"lake/k1"});
  ASSERT_TRUE(j.written("lake/k1").isOk());
  EXPECT_CODE(j.stage({"lake/k3", "c"}, {"e1"}), kAlreadyExists);  // placed in a written object
  EXPECT_TRUE(j.staged()->empty());
  EXPECT_TRUE(j.stage({"lake/k2", "b"}, {"e2"}).isOk());
}

TEST_P(LakeJournalContract, StagedObjectsComeBackOldestFirstWithTheirExactContent) {
  LakeJournal& j = h_->journal();
  std::string binary("\x1f\x8b\x08\x00\x00\xff", 6);  // gzip bytes, a NUL among them
  ASSERT_TRUE(j.stage({"lake/z-first", binary}, {"e1"}).isOk());
  ASSERT_TRUE(j.stage({"lake/a-second", "text"}, {"e2"}).isOk());
  ASSERT_TRUE(j.stage({"lake/m-third", ""}, {"e3", "e4"}).isOk());
  auto staged = j.staged();
  ASSERT_TRUE(staged.isOk());
  EXPECT_EQ(keys(*staged),
            (std::vector<std::string>{"lake/z-first", "lake/a-second", "lake/m-third"}));
  ASSERT_EQ(staged->size(), 3u);
  EXPECT_EQ((*staged)[0].content, binary);
  EXPECT_EQ((*staged)[1].content, "text");
  ASSERT_TRUE(j.written("lake/a-second").isOk());
  EXPECT_EQ(keys(*j.staged()), (std::vector<std::string>{"lake/z-first", "lake/m-third"}));
}

// The point of the journal: after a crash between stage and write, the object is still there
// to be written under the same key, and its events are recognised as placed.
TEST_P(LakeJournalContract, AStagedObjectAndItsEventsSurviveARestart) {
  ASSERT_TRUE(h_->journal().stage({"lake/k1", "content"}, {"e1", "e2"}).isOk());
  LakeJournal& j = h_->restart();
  auto staged = j.staged();
  ASSERT_TRUE(staged.isOk()) << staged.status().toString();
  ASSERT_EQ(keys(*staged), std::vector<std::string>{"lake/k1"});
  EXPECT_EQ((*staged)[0].content, "content");
  EXPECT_EQ(*j.placed({"e1", "e2", "e3"}), (std::vector<bool>{true, true, false}));
  ASSERT_TRUE(j.written("lake/k1").isOk());
  EXPECT_TRUE(h_->restart().staged()->empty());
}

// ---------------------------------------------------------------------------------------
// DeliveryLog (ports/delivery_log.h): what the targets received, for reconcile.
struct DeliveryLogHarness {
  virtual ~DeliveryLogHarness() = default;
  virtual DeliveryLog& log() = 0;
  // The log as a process started later sees it: the same storage, opened again. References
  // from log() before the call are invalid afterwards.
  virtual DeliveryLog& restart() = 0;
};
using DeliveryLogHarnessFactory = std::function<std::unique_ptr<DeliveryLogHarness>()>;

class DeliveryLogContract : public ContractTest<DeliveryLogHarness> {
 protected:
  static DeliveryRecord rec(const std::string& target, const std::string& eventId,
                            const std::string& member = "M1", const std::string& rule = "r1",
                            int64_t at = 1000) {
    DeliveryRecord r;
    r.target = target;
    r.eventId = eventId;
    r.memberId = member;
    r.rule = rule;
    r.deliveredAtMs = at;
    return r;
  }
  // "target/event" of each record, in order.
  static std::vector<std::string> pairs(const std::vector<DeliveryRecord>& rs) {
    std::vector<std::string> out;
    for (const auto& r : rs) out.push_back(r.target + "/" + r.eventId);
    return out;
  }
  std::vector<DeliveryRecord> all(DeliveryLog& l) {
    auto got = l.scan(0, 1000);
    EXPECT_TRUE(got.isOk()) << got.status().toString();
    return got.isOk() ? *got : std::vector<DeliveryRecord>{};
  }
};

TEST_P(DeliveryLogContract, RecordsEveryFieldAndAnEmptyRecordIsNothing) {
  DeliveryLog& l = h_->log();
  EXPECT_TRUE(l.record({}).isOk());
  EXPECT_TRUE(all(l).empty());
  ASSERT_TRUE(
      l.record({rec("crm", "e1", "M7", "crm-rule", 1234), rec("audit", "e1", "M7", "")}).isOk());
  auto got = all(l);
  ASSERT_EQ(pairs(got), (std::vector<std::string>{"crm/e1", "audit/e1"}));
  EXPECT_EQ(got[0].memberId, "M7");
  EXPECT_EQ(got[0].rule, "crm-rule");
  EXPECT_EQ(got[0].deliveredAtMs, 1234);
  EXPECT_EQ(got[0].deliveries, 1);
  EXPECT_GT(got[0].seq, 0);
  EXPECT_EQ(got[1].rule, "");  // unknown
  EXPECT_GT(got[1].seq, got[0].seq);
}

// At least once: a redelivery records the pair again, and the first row stays the only one.
TEST_P(DeliveryLogContract, RecordingAPairAgainKeepsItsFirstRowAndCountsTheDelivery) {
  DeliveryLog& l = h_->log();
  ASSERT_TRUE(l.record({rec("crm", "e1", "M1", "r1", 1000), rec("crm", "e2")}).isOk());
  auto before = all(l);
  ASSERT_EQ(before.size(), 2u);
  ASSERT_TRUE(l.record({rec("crm", "e1", "M1", "r2", 5000)}).isOk());
  ASSERT_TRUE(l.record({rec("crm", "e1", "M1", "r1", 6000), rec("crm", "e3")}).isOk());
  auto after = all(l);
  ASSERT_EQ(pairs(after), (std::vector<std::string>{"crm/e1", "crm/e2", "crm/e3"}));
  EXPECT_EQ(after[0].seq, before[0].seq);
  EXPECT_EQ(after[0].rule, "r1");
  EXPECT_EQ(after[0].deliveredAtMs, 1000);
  EXPECT_EQ(after[0].deliveries, 3);
  EXPECT_EQ(after[1].deliveries, 1);
  EXPECT_GT(after[2].seq, after[1].seq);  // a new pair comes after every earlier one
}

TEST_P(DeliveryLogContract, ARecordWithoutTargetOrEventIdIsInvalidAndTheBatchRecordsNothing) {
  DeliveryLog& l = h_->log();
  EXPECT_CODE(l.record({rec("crm", "e1"), rec("crm", "")}), kInvalidArgument);
  EXPECT_CODE(l.record({rec("", "e2")}), kInvalidArgument);
  EXPECT_TRUE(all(l).empty());
  EXPECT_EQ(*l.delivered({{"crm", "e1"}}), std::vector<bool>{false});
}

// Insertion order, not key order, and a cursor that pages through it to the end.
TEST_P(DeliveryLogContract, ScanPagesInInsertionOrderFromACursor) {
  DeliveryLog& l = h_->log();
  ASSERT_TRUE(l.record({rec("crm", "z"), rec("audit", "a")}).isOk());
  ASSERT_TRUE(l.record({rec("crm", "m")}).isOk());
  ASSERT_TRUE(l.record({rec("crm", "b"), rec("crm", "z"), rec("audit", "y")}).isOk());
  std::vector<std::string> seen;
  std::vector<size_t> pages;
  int64_t cursor = 0;
  for (int i = 0; i < 10; ++i) {
    auto page = l.scan(cursor, 2);
    ASSERT_TRUE(page.isOk()) << page.status().toString();
    pages.push_back(page->size());
    if (page->empty()) break;
    for (const auto& r : *page) {
      EXPECT_GT(r.seq, cursor);
      cursor = r.seq;
      seen.push_back(r.target + "/" + r.eventId);
    }
  }
  EXPECT_EQ(seen, (std::vector<std::string>{"crm/z", "audit/a", "crm/m", "crm/b", "audit/y"}));
  EXPECT_EQ(pages, (std::vector<size_t>{2, 2, 1, 0}));
  EXPECT_TRUE(l.scan(0, 0)->empty());
  ASSERT_TRUE(l.record({rec("crm", "late")}).isOk());  // the end for now, not for good
  EXPECT_EQ(pairs(*l.scan(cursor, 2)), std::vector<std::string>{"crm/late"});
}

TEST_P(DeliveryLogContract, DeliveredAnswersEachTargetAndEventPairInOrder) {
  DeliveryLog& l = h_->log();
  ASSERT_TRUE(l.record({rec("crm", "e1"), rec("audit", "e2")}).isOk());
  auto got = l.delivered({{"crm", "e1"},
                          {"audit", "e1"},
                          {"audit", "e2"},
                          {"crm", "e2"},
                          {"crm", "e3"},
                          {"crm", "e1"}});
  ASSERT_TRUE(got.isOk()) << got.status().toString();
  EXPECT_EQ(*got, (std::vector<bool>{true, false, true, false, false, true}));
  EXPECT_TRUE(l.delivered({})->empty());
}

TEST_P(DeliveryLogContract, RecordsSurviveARestartAndKeepTheirOrderAndIdempotency) {
  ASSERT_TRUE(h_->log().record({rec("crm", "e1"), rec("crm", "e2")}).isOk());
  DeliveryLog& l = h_->restart();
  EXPECT_EQ(*l.delivered({{"crm", "e1"}, {"crm", "e2"}}), (std::vector<bool>{true, true}));
  ASSERT_TRUE(l.record({rec("crm", "e1"), rec("crm", "e3")}).isOk());
  auto got = all(l);
  EXPECT_EQ(pairs(got), (std::vector<std::string>{"crm/e1", "crm/e2", "crm/e3"}));
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0].deliveries, 2);
}

// One log serves every target's delivery threads at once, redeliveries among them.
TEST_P(DeliveryLogContract, ConcurrentRecordsKeepOneRowPerPair) {
  DeliveryLog& l = h_->log();
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 20; ++i) {
        // Threads t and t+2 share a target: each pair of theirs is recorded twice.
        std::string target = "target" + std::to_string(t % 2);
        if (!l.record({rec(target, "e" + std::to_string(i)), rec(target, "f" + std::to_string(i))})
                 .isOk()) {
          ++failures;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  auto got = all(l);
  EXPECT_EQ(got.size(), 80u);  // 2 targets x 40 events
  std::set<std::string> unique;
  for (const auto& r : got) {
    unique.insert(r.target + "/" + r.eventId);
    EXPECT_EQ(r.deliveries, 2) << r.target << "/" << r.eventId;
  }
  EXPECT_EQ(unique.size(), 80u);
}

// ---------------------------------------------------------------------------------------
// ParkingStore (ports/parking.h): the members sync parked, and their held changes in order.
struct ParkingStoreHarness {
  virtual ~ParkingStoreHarness() = default;
  virtual ParkingStore& store() = 0;
};
using ParkingStoreHarnessFactory = std::function<std::unique_ptr<ParkingStoreHarness>()>;

class ParkingStoreContract : public ContractTest<ParkingStoreHarness> {
 protected:
  int64_t now_ = 1767225600000;
  static ParkedChange change(const std::string& messageId, std::string body = "",
                             std::map<std::string, std::string> attributes = {}) {
    ParkedChange c;
    c.messageId = messageId;
    c.body = body.empty() ? "{\"change\":\"" + messageId + "\"}" : std::move(body);
    c.attributes = std::move(attributes);
    return c;
  }
  std::vector<ParkedChange> heldOf(const std::string& memberId) {
    auto got = h_->store().held(memberId, 1000);
    EXPECT_TRUE(got.isOk()) << got.status().toString();
    return got.isOk() ? *got : std::vector<ParkedChange>{};
  }
  // The message ids of the member's held changes, in order.
  std::vector<std::string> heldIds(const std::string& memberId) {
    std::vector<std::string> out;
    for (const auto& c : heldOf(memberId)) out.push_back(c.messageId);
    return out;
  }
  std::optional<int64_t> seqOf(const std::string& memberId, const std::string& messageId) {
    for (const auto& c : heldOf(memberId)) {
      if (c.messageId == messageId) return c.seq;
    }
    ADD_FAILURE() << messageId << " is not held for " << memberId;
    return std::nullopt;
  }
  std::optional<ParkedMember> stateOf(const std::string& memberId) {
    auto s = h_->store().state({memberId});
    EXPECT_TRUE(s.isOk()) << s.status().toString();
    if (!s.isOk() || s->size() != 1) {
      ADD_FAILURE() << "state() answered " << (s.isOk() ? s->size() : 0) << " entries for 1";
      return std::nullopt;
    }
    return (*s)[0];
  }
  std::vector<std::string> releasedSorted(size_t max) {
    auto r = h_->store().released(max);
    EXPECT_TRUE(r.isOk()) << r.status().toString();
    std::vector<std::string> out = r.isOk() ? *r : std::vector<std::string>{};
    std::sort(out.begin(), out.end());
    return out;
  }
  using Ids = std::vector<std::string>;
};

TEST_P(ParkingStoreContract, ParkThenStateAnswersEachMemberInOrder) {
  ParkingStore& p = h_->store();
  auto none = p.state({"M1", "M2"});  // nobody parked yet: an answer for each all the same
  ASSERT_TRUE(none.isOk()) << none.status().toString();
  ASSERT_EQ(none->size(), 2u);
  EXPECT_FALSE((*none)[0].has_value());
  EXPECT_FALSE((*none)[1].has_value());
  ASSERT_TRUE(p.park("M1", "dead-1", "http_422", now_).isOk());
  auto s = p.state({"M2", "M1", "M2", "M1"});
  ASSERT_TRUE(s.isOk()) << s.status().toString();
  ASSERT_EQ(s->size(), 4u);
  EXPECT_FALSE((*s)[0].has_value());
  EXPECT_FALSE((*s)[2].has_value());
  ASSERT_TRUE((*s)[1].has_value());
  ASSERT_TRUE((*s)[3].has_value());
  const ParkedMember& m = *(*s)[1];
  EXPECT_EQ(m.memberId, "M1");
  EXPECT_EQ(m.state, ParkedMember::State::kParked);
  EXPECT_EQ(m.deadMessageId, "dead-1");
  EXPECT_EQ(m.reason, "http_422");
  EXPECT_EQ(m.parkedAtMs, now_);
  EXPECT_EQ(m.held, 0);
  EXPECT_EQ((*s)[3]->memberId, "M1");
  EXPECT_TRUE(p.state({})->empty());
  // A second dead letter while parked: the latest is recorded.
  ASSERT_TRUE(p.park("M1", "dead-2", "poison", now_ + 10).isOk());
  auto again = stateOf("M1");
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(again->state, ParkedMember::State::kParked);
  EXPECT_EQ(again->deadMessageId, "dead-2");
  EXPECT_EQ(again->reason, "poison");
  EXPECT_FALSE(stateOf("M2").has_value());
}

TEST_P(ParkingStoreContract, AMemberUnparkedIsNotParkedWhenNobodyElseIs) {
  ParkingStore& p = h_->store();
  ASSERT_TRUE(p.park("U", "u0", "http_422", now_).isOk());
  ASSERT_TRUE(p.hold("U", {change("u1")}, now_).isOk());
  ASSERT_TRUE(p.release("U", std::nullopt, now_).isOk());
  auto hs = heldOf("U");
  ASSERT_EQ(hs.size(), 1u);
  EXPECT_EQ(*p.done("U", {hs[0].seq}), true);  // unparked: its row stays, not parked
  auto s = p.state({"U", "V"});
  ASSERT_TRUE(s.isOk()) << s.status().toString();
  ASSERT_EQ(s->size(), 2u);
  EXPECT_FALSE((*s)[0].has_value());
  EXPECT_FALSE((*s)[1].has_value());
  ASSERT_TRUE(p.park("U", "u2", "poison", now_ + 1).isOk());  // parked again: seen again
  auto again = stateOf("U");
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(again->deadMessageId, "u2");
}

TEST_P(ParkingStoreContract, HoldKeepsOrderAndIgnoresAHeldMessageId) {
  ParkingStore& p = h_->store();
  ASSERT_TRUE(p.park("M1", "d1", "http_422", now_).isOk());
  ASSERT_TRUE(
      p.hold("M1", {change("c1", "body-1", {{"k", "v"}, {"sourceQueue", "changes"}}), change("c2")},
             now_ + 1)
          .isOk());
  // c2 redelivered, c3 twice in one batch: each is held once, in first-seen order.
  ASSERT_TRUE(p.hold("M1", {change("c2"), change("c3"), change("c3")}, now_ + 2).isOk());
  ASSERT_TRUE(p.hold("M1", {change("c0")}, now_ + 3).isOk());
  auto got = heldOf("M1");
  ASSERT_EQ(got.size(), 4u);
  EXPECT_EQ(heldIds("M1"), (Ids{"c1", "c2", "c3", "c0"}));
  EXPECT_EQ(got[0].body, "body-1");
  EXPECT_EQ(got[0].attributes,
            (std::map<std::string, std::string>{{"k", "v"}, {"sourceQueue", "changes"}}));
  EXPECT_EQ(got[0].heldAtMs, now_ + 1);
  EXPECT_EQ(got[1].body, "{\"change\":\"c2\"}");
  EXPECT_TRUE(got[1].attributes.empty());
  EXPECT_EQ(got[1].heldAtMs, now_ + 1);  // the first hold's, not the redelivery's
  EXPECT_EQ(got[2].heldAtMs, now_ + 2);
  for (size_t i = 1; i < got.size(); ++i) EXPECT_LT(got[i - 1].seq, got[i].seq);
  auto two = p.held("M1", 2);
  ASSERT_TRUE(two.isOk());
  ASSERT_EQ(two->size(), 2u);
  EXPECT_EQ((*two)[1].messageId, "c2");
  EXPECT_TRUE(p.held("M1", 0)->empty());
  EXPECT_EQ(stateOf("M1")->held, 4);
  EXPECT_TRUE(heldIds("M2").empty());
}

TEST_P(ParkingStoreContract, HoldOnAMemberNotParkedIsFailedPreconditionAndAddsNothing) {
  ParkingStore& p = h_->store();
  EXPECT_CODE(p.hold("M9", {change("c1"), change("c2")}, now_), kFailedPrecondition);
  EXPECT_CODE(p.hold("M9", {}, now_), kFailedPrecondition);
  EXPECT_TRUE(heldIds("M9").empty());
  EXPECT_FALSE(stateOf("M9").has_value());
  // Parked, released, drained and unparked: not parked any more.
  ASSERT_TRUE(p.park("M9", "d1", "http_422", now_).isOk());
  ASSERT_TRUE(p.release("M9", std::nullopt, now_).isOk());
  ASSERT_EQ(*p.done("M9", {}), true);
  EXPECT_CODE(p.hold("M9", {change("c3")}, now_), kFailedPrecondition);
  EXPECT_TRUE(heldIds("M9").empty());
  EXPECT_FALSE(stateOf("M9").has_value());
}

TEST_P(ParkingStoreContract, ReleasePutsTheHeadFirstAndIsIdempotent) {
  ParkingStore& p = h_->store();
  ASSERT_TRUE(p.park("M1", "d1", "http_422", now_).isOk());
  ASSERT_TRUE(p.hold("M1", {change("c1"), change("c2")}, now_).isOk());
  ASSERT_TRUE(
      p.release("M1", change("d1", "dead-body", {{"reason", "http_422"}}), now_ + 5).isOk());
  auto s = stateOf("M1");
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(s->state, ParkedMember::State::kReleased);
  EXPECT_EQ(s->held, 3);
  auto got = heldOf("M1");
  ASSERT_EQ(heldIds("M1"), (Ids{"d1", "c1", "c2"}));
  EXPECT_EQ(got[0].body, "dead-body");
  EXPECT_EQ(got[0].attributes, (std::map<std::string, std::string>{{"reason", "http_422"}}));
  EXPECT_EQ(got[0].heldAtMs, now_ + 5);
  EXPECT_LT(got[0].seq, got[1].seq);
  // Again, with the same head, without one, and with a head that is held already.
  ASSERT_TRUE(p.release("M1", change("d1"), now_ + 6).isOk());
  ASSERT_TRUE(p.release("M1", std::nullopt, now_ + 7).isOk());
  ASSERT_TRUE(p.release("M1", change("c2"), now_ + 8).isOk());
  EXPECT_EQ(heldIds("M1"), (Ids{"d1", "c1", "c2"}));
  EXPECT_EQ(stateOf("M1")->state, ParkedMember::State::kReleased);
  // A change arriving while released is held behind them; a new head goes before all.
  ASSERT_TRUE(p.hold("M1", {change("c3")}, now_ + 9).isOk());
  ASSERT_EQ(*p.done("M1", {*seqOf("M1", "d1")}), false);
  ASSERT_TRUE(p.release("M1", change("d2"), now_ + 10).isOk());
  EXPECT_EQ(heldIds("M1"), (Ids{"d2", "c1", "c2", "c3"}));
}

TEST_P(ParkingStoreContract, ReleasedListsOnlyReleasedMembers) {
  ParkingStore& p = h_->store();
  ASSERT_TRUE(p.park("A", "a", "r", now_).isOk());
  ASSERT_TRUE(p.park("B", "b", "r", now_ + 1).isOk());
  ASSERT_TRUE(p.park("C", "c", "r", now_ + 2).isOk());
  EXPECT_TRUE(releasedSorted(10).empty());
  ASSERT_TRUE(p.release("B", std::nullopt, now_).isOk());
  ASSERT_TRUE(p.release("C", change("c"), now_).isOk());
  EXPECT_EQ(releasedSorted(10), (Ids{"B", "C"}));
  auto one = releasedSorted(1);
  ASSERT_EQ(one.size(), 1u);
  EXPECT_TRUE(one[0] == "B" || one[0] == "C") << one[0];
  EXPECT_TRUE(p.released(0)->empty());
  // C's held change failed: parked again, no longer released.
  ASSERT_TRUE(p.park("C", "c", "http_409", now_ + 3).isOk());
  EXPECT_EQ(releasedSorted(10), (Ids{"B"}));
}

TEST_P(ParkingStoreContract, DoneRemovesBySeqAndUnparksOnlyAReleasedMemberWithNothingLeft) {
  ParkingStore& p = h_->store();
  // Parked, with nothing left: stays parked.
  ASSERT_TRUE(p.park("P", "p0", "http_422", now_).isOk());
  ASSERT_TRUE(p.hold("P", {change("p1")}, now_).isOk());
  EXPECT_EQ(*p.done("P", {*seqOf("P", "p1")}), false);
  EXPECT_TRUE(heldIds("P").empty());
  EXPECT_EQ(*p.done("P", {}), false);
  auto parked = stateOf("P");
  ASSERT_TRUE(parked.has_value());
  EXPECT_EQ(parked->state, ParkedMember::State::kParked);
  EXPECT_EQ(parked->held, 0);
  // Released: unparked when its last held change is done, and not before.
  ASSERT_TRUE(p.park("R", "r0", "http_422", now_).isOk());
  ASSERT_TRUE(p.hold("R", {change("r1"), change("r2"), change("r3")}, now_).isOk());
  ASSERT_TRUE(p.release("R", std::nullopt, now_).isOk());
  auto hs = heldOf("R");
  ASSERT_EQ(hs.size(), 3u);
  EXPECT_EQ(*p.done("R", {hs[1].seq}), false);
  EXPECT_EQ(heldIds("R"), (Ids{"r1", "r3"}));
  EXPECT_EQ(stateOf("R")->held, 2);
  EXPECT_EQ(*p.done("R", {hs[1].seq, hs[2].seq + 1000}), false);  // done already, or unknown
  EXPECT_EQ(heldIds("R"), (Ids{"r1", "r3"}));
  EXPECT_EQ(stateOf("R")->state, ParkedMember::State::kReleased);
  EXPECT_EQ(*p.done("R", {hs[0].seq, hs[2].seq}), true);
  EXPECT_FALSE(stateOf("R").has_value());
  EXPECT_TRUE(heldIds("R").empty());
  EXPECT_EQ(*p.done("R", {hs[0].seq}), false);  // nothing to unpark
  EXPECT_TRUE(releasedSorted(10).empty());
  EXPECT_TRUE(stateOf("P").has_value());
}

TEST_P(ParkingStoreContract, ParkAgainAfterReleaseKeepsTheHeldChanges) {
  ParkingStore& p = h_->store();
  ASSERT_TRUE(p.park("M1", "d1", "http_422", now_).isOk());
  ASSERT_TRUE(p.hold("M1", {change("c1"), change("c2")}, now_).isOk());
  ASSERT_TRUE(p.release("M1", change("d1"), now_ + 5).isOk());
  ASSERT_EQ(*p.done("M1", {*seqOf("M1", "d1")}), false);  // the dead change applied
  // c1 fails for a cause of its own: parked again, on c1.
  ASSERT_TRUE(p.park("M1", "c1", "poison", now_ + 20).isOk());
  auto s = stateOf("M1");
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(s->state, ParkedMember::State::kParked);
  EXPECT_EQ(s->deadMessageId, "c1");
  EXPECT_EQ(s->reason, "poison");
  EXPECT_EQ(s->held, 2);
  EXPECT_EQ(heldIds("M1"), (Ids{"c1", "c2"}));
  EXPECT_TRUE(releasedSorted(10).empty());
  // Its dead letter taken out of the held ones, the rest wait: nothing unparks a parked member.
  EXPECT_EQ(*p.done("M1", {*seqOf("M1", "c1")}), false);
  ASSERT_TRUE(p.hold("M1", {change("c3")}, now_ + 21).isOk());
  EXPECT_EQ(heldIds("M1"), (Ids{"c2", "c3"}));
  ASSERT_TRUE(p.release("M1", change("c1"), now_ + 30).isOk());
  EXPECT_EQ(heldIds("M1"), (Ids{"c1", "c2", "c3"}));
}

TEST_P(ParkingStoreContract, ListShowsBothStatesOldestParkedFirstWithHeldCounts) {
  ParkingStore& p = h_->store();
  ASSERT_TRUE(p.park("B", "b", "http_422", now_).isOk());
  ASSERT_TRUE(p.park("A", "a", "poison", now_ + 10).isOk());
  ASSERT_TRUE(p.park("C", "c", "http_400", now_ + 5).isOk());
  ASSERT_TRUE(p.hold("A", {change("a1"), change("a2")}, now_ + 11).isOk());
  ASSERT_TRUE(p.release("C", change("c"), now_ + 12).isOk());
  auto all = p.list(10);
  ASSERT_TRUE(all.isOk()) << all.status().toString();
  ASSERT_EQ(all->size(), 3u);
  const auto& l = *all;
  EXPECT_EQ(l[0].memberId, "B");
  EXPECT_EQ(l[1].memberId, "C");
  EXPECT_EQ(l[2].memberId, "A");
  EXPECT_EQ(l[0].state, ParkedMember::State::kParked);
  EXPECT_EQ(l[0].held, 0);
  EXPECT_EQ(l[0].parkedAtMs, now_);
  EXPECT_EQ(l[1].state, ParkedMember::State::kReleased);
  EXPECT_EQ(l[1].held, 1);
  EXPECT_EQ(l[1].reason, "http_400");
  EXPECT_EQ(l[2].state, ParkedMember::State::kParked);
  EXPECT_EQ(l[2].held, 2);
  EXPECT_EQ(l[2].deadMessageId, "a");
  EXPECT_EQ(l[2].parkedAtMs, now_ + 10);
  auto two = p.list(2);
  ASSERT_TRUE(two.isOk());
  ASSERT_EQ(two->size(), 2u);
  EXPECT_EQ((*two)[1].memberId, "C");
  EXPECT_TRUE(p.list(0)->empty());
}

TEST_P(ParkingStoreContract, ReleaseOfAMemberNotParkedIsNotFoundAndHoldsNothing) {
  ParkingStore& p = h_->store();
  EXPECT_CODE(p.release("M9", change("d9"), now_), kNotFound);
  EXPECT_CODE(p.release("M9", std::nullopt, now_), kNotFound);
  EXPECT_FALSE(stateOf("M9").has_value());
  EXPECT_TRUE(heldIds("M9").empty());
  EXPECT_TRUE(releasedSorted(10).empty());
  ASSERT_TRUE(p.park("M9", "d9", "http_422", now_).isOk());
  EXPECT_TRUE(heldIds("M9").empty());  // the refused head was not kept
}

// A sync process that drained a member's parking may call done() late, with the seqs it
// applied, after the member was unparked and parked again: those seqs must name nothing held by
// the new parking (seqs never repeat for a member, across parkings too).
TEST_P(ParkingStoreContract, ALateDoneWithSeqsOfAnEarlierParkingRemovesNothingHeldSince) {
  ParkingStore& p = h_->store();
  ASSERT_TRUE(p.park("M1", "d1", "http_422", now_).isOk());
  ASSERT_TRUE(p.hold("M1", {change("c1"), change("c2")}, now_ + 1).isOk());
  ASSERT_TRUE(p.release("M1", change("d1"), now_ + 2).isOk());
  std::vector<int64_t> old;
  for (const auto& c : heldOf("M1")) old.push_back(c.seq);
  ASSERT_EQ(old.size(), 3u);
  ASSERT_EQ(*p.done("M1", old), true);
  // Unparked: not parked, not released, not listed; hold and release refuse it.
  EXPECT_FALSE(stateOf("M1").has_value());
  EXPECT_TRUE(releasedSorted(10).empty());
  EXPECT_TRUE(p.list(10)->empty());
  EXPECT_CODE(p.hold("M1", {change("c3")}, now_ + 3), kFailedPrecondition);
  EXPECT_CODE(p.release("M1", std::nullopt, now_ + 3), kNotFound);
  EXPECT_EQ(*p.done("M1", old), false);
  // Parked again, later: a parking of its own (its time, its dead change, nothing held).
  ASSERT_TRUE(p.park("M1", "d2", "poison", now_ + 100).isOk());
  auto s = stateOf("M1");
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(s->state, ParkedMember::State::kParked);
  EXPECT_EQ(s->deadMessageId, "d2");
  EXPECT_EQ(s->reason, "poison");
  EXPECT_EQ(s->parkedAtMs, now_ + 100);
  EXPECT_EQ(s->held, 0);
  ASSERT_TRUE(p.hold("M1", {change("n1"), change("n2")}, now_ + 101).isOk());
  // The first drain's late done, while parked and again once released with a new head.
  EXPECT_EQ(*p.done("M1", old), false);
  EXPECT_EQ(heldIds("M1"), (Ids{"n1", "n2"}));
  ASSERT_TRUE(p.release("M1", change("d2"), now_ + 102).isOk());
  EXPECT_EQ(*p.done("M1", old), false);
  EXPECT_EQ(heldIds("M1"), (Ids{"d2", "n1", "n2"}));
  for (const auto& c : heldOf("M1")) {
    EXPECT_EQ(std::count(old.begin(), old.end(), c.seq), 0) << c.messageId << " reuses " << c.seq;
  }
  auto all = p.list(10);
  ASSERT_TRUE(all.isOk()) << all.status().toString();
  ASSERT_EQ(all->size(), 1u);
  EXPECT_EQ((*all)[0].state, ParkedMember::State::kReleased);
  EXPECT_EQ((*all)[0].held, 3);
  EXPECT_EQ(releasedSorted(10), (Ids{"M1"}));
}

// Sync holds a member's changes while its drain applies the held ones: every change a hold
// accepted is drained, in order, before the member is unparked, and a hold after the unpark
// is refused (its caller applies the change itself).
TEST_P(ParkingStoreContract, AHoldRacingTheLastDoneNeverLeavesChangesOfAnUnparkedMember) {
  ParkingStore& p = h_->store();
  ASSERT_TRUE(p.park("M1", "d", "http_422", now_).isOk());
  ASSERT_TRUE(p.hold("M1", {change("c0")}, now_).isOk());
  ASSERT_TRUE(p.release("M1", change("d"), now_).isOk());
  Ids accepted{"d", "c0"}, drained;
  std::atomic<bool> unparked{false};
  std::thread holder([&] {
    for (int i = 1; i <= 40 && !unparked; ++i) {
      std::string id = "c" + std::to_string(i);
      Status s = p.hold("M1", {change(id)}, now_ + i);
      if (s.isOk()) {
        accepted.push_back(id);
      } else {
        if (s.code() != Code::kFailedPrecondition) ADD_FAILURE() << s.toString();
        break;
      }
    }
  });
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (!unparked && std::chrono::steady_clock::now() < deadline) {
    auto batch = p.held("M1", 2);
    if (!batch.isOk()) {
      ADD_FAILURE() << batch.status().toString();
      break;
    }
    std::vector<int64_t> seqs;
    for (const auto& c : *batch) {
      drained.push_back(c.messageId);
      seqs.push_back(c.seq);
    }
    auto d = p.done("M1", seqs);
    if (!d.isOk()) {
      ADD_FAILURE() << d.status().toString();
      break;
    }
    unparked = *d;
  }
  holder.join();
  ASSERT_TRUE(unparked.load());
  EXPECT_EQ(drained, accepted);
  EXPECT_FALSE(stateOf("M1").has_value());
  EXPECT_TRUE(heldIds("M1").empty());
}

// ---------------------------------------------------------------------------------------
// HttpClient (ports/http_client.h), against servers on loopback: the Member API's HTTP server
// with a scripted handler, and raw sockets that take a request and then close or say nothing.
struct HttpClientHarness {
  virtual ~HttpClientHarness() = default;
  virtual HttpClient& client() = 0;
};
using HttpClientHarnessFactory = std::function<std::unique_ptr<HttpClientHarness>()>;

// A TCP listener on 127.0.0.1, port 0, that reads each request's head and then closes the
// connection (kClose) or holds it open without a byte of answer (kSilent).
class RawServer {
 public:
  enum class Mode { kClose, kSilent };
  explicit RawServer(Mode mode) : mode_(mode) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = 0;
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(fd_, 16) != 0) {
      ADD_FAILURE() << "cannot listen on loopback";
      return;
    }
    socklen_t len = sizeof a;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] { serve(); });
  }
  ~RawServer() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    for (int c : held_) ::close(c);
    ::close(fd_);
  }
  RawServer(const RawServer&) = delete;
  RawServer& operator=(const RawServer&) = delete;
  uint16_t port() const { return port_; }
  // The request heads received so far.
  std::vector<std::string> requests() {
    std::lock_guard lock(mu_);
    return requests_;
  }

 private:
  void serve() {
    while (!stop_) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 20) <= 0) continue;
      int c = ::accept(fd_, nullptr, nullptr);
      if (c < 0) continue;
      std::string head;
      char buf[4096];
      auto until = std::chrono::steady_clock::now() + std::chrono::seconds(5);
      while (head.find("\r\n\r\n") == std::string::npos &&
             std::chrono::steady_clock::now() < until) {
        pollfd q{c, POLLIN, 0};
        if (::poll(&q, 1, 20) <= 0) continue;
        ssize_t n = ::recv(c, buf, sizeof buf, 0);
        if (n <= 0) break;
        head.append(buf, static_cast<size_t>(n));
      }
      {
        std::lock_guard lock(mu_);
        requests_.push_back(head);
      }
      if (mode_ == Mode::kClose) {
        ::close(c);
      } else {
        held_.push_back(c);
      }
    }
  }
  Mode mode_;
  int fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  std::vector<std::string> requests_;
  std::vector<int> held_;  // only the serving thread touches it until the join
  std::thread thread_;
};

// A loopback port nothing listens on: bound and closed again, so connecting is refused.
inline uint16_t refusedPort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

class HttpClientContract : public ContractTest<HttpClientHarness> {
 protected:
  void SetUp() override {
    ContractTest<HttpClientHarness>::SetUp();
    if (IsSkipped()) return;
    api::ServerOptions so;
    so.port = 0;
    server_ = std::make_unique<api::HttpServer>(
        [this](const api::ApiRequest& r) {
          {
            std::lock_guard lock(mu_);
            seen_.push_back(r);
          }
          if (r.target == "/unavailable")
            return api::ApiResponse{503, {{"Retry-After", "7"}}, "busy"};
          // Echoes what identifies the request, under a mixed-case header name.
          return api::ApiResponse{
              202, {{"X-Echo-Method", r.method}, {"X-Echo-Tag", r.header("x-tag")}}, r.body};
        },
        so);
    ASSERT_TRUE(server_->start().isOk());
    base_ = "http://127.0.0.1:" + std::to_string(server_->port());
  }
  void TearDown() override {
    if (server_) server_->stop();
  }
  std::vector<api::ApiRequest> seen() {
    std::lock_guard lock(mu_);
    return seen_;
  }
  std::unique_ptr<api::HttpServer> server_;
  std::string base_;
  std::mutex mu_;
  std::vector<api::ApiRequest> seen_;
};

TEST_P(HttpClientContract, SendsMethodHeadersAndBodyAndReturnsTheResponseWithLowerCasedNames) {
  std::string body("{\"a\":1}\n\0tail", 13);
  auto r = h_->client().send({"PUT",
                              base_ + "/echo?x=1",
                              {{"X-Tag", "t-1"}, {"Content-Type", "application/json"}},
                              body,
                              5000});
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.transport, HttpResult::Transport::kOk);
  EXPECT_EQ(r.response.status, 202);
  EXPECT_EQ(r.response.body, body);
  EXPECT_EQ(r.response.header("x-echo-method"), "PUT");
  EXPECT_EQ(r.response.header("x-echo-tag"), "t-1");
  EXPECT_EQ(r.response.header("X-Echo-Tag"), "");  // names are lower-cased
  auto s = seen();
  ASSERT_EQ(s.size(), 1u);
  EXPECT_EQ(s[0].method, "PUT");
  EXPECT_EQ(s[0].target, "/echo?x=1");
  EXPECT_EQ(s[0].body, body);
  EXPECT_EQ(s[0].header("content-type"), "application/json");
}

TEST_P(HttpClientContract, AnErrorStatusIsAResponseNotATransportFailure) {
  auto r = h_->client().send({"POST", base_ + "/unavailable", {}, "x", 5000});
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.response.status, 503);
  EXPECT_EQ(r.response.header("retry-after"), "7");
  EXPECT_EQ(r.response.body, "busy");
}

TEST_P(HttpClientContract, ARefusedConnectionIsNotSentAndTheErrorHoldsNoRequestContent) {
  HttpRequest req{"POST",
                  "http://127.0.0.1:" + std::to_string(refusedPort()) + "/x",
                  {{"Authorization", "Bearer secret-token"}},
                  "secret-body",
                  5000};
  auto r = h_->client().send(req);
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.transport, HttpResult::Transport::kNotSent);
  EXPECT_FALSE(r.error.empty());
  EXPECT_EQ(r.error.find("secret"), std::string::npos) << r.error;
}

TEST_P(HttpClientContract, NoAnswerWithinTheTimeoutIsNoResponseAfterTheTimeout) {
  RawServer silent(RawServer::Mode::kSilent);
  auto start = std::chrono::steady_clock::now();
  auto r = h_->client().send({"POST",
                              "http://127.0.0.1:" + std::to_string(silent.port()) + "/slow",
                              {},
                              "secret-body",
                              300});
  auto took = std::chrono::steady_clock::now() - start;
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.transport, HttpResult::Transport::kNoResponse);
  EXPECT_GE(took, std::chrono::milliseconds(250));
  EXPECT_LT(took, std::chrono::seconds(5));
  EXPECT_EQ(r.error.find("secret"), std::string::npos) << r.error;
  auto got = silent.requests();
  ASSERT_EQ(got.size(), 1u);  // it was sent: the server may have acted
  EXPECT_EQ(got[0].rfind("POST /slow HTTP/1.1\r\n", 0), 0u) << got[0];
}

TEST_P(HttpClientContract, AConnectionClosedWithoutAnAnswerIsNoResponse) {
  RawServer closing(RawServer::Mode::kClose);
  auto r = h_->client().send(
      {"GET", "http://127.0.0.1:" + std::to_string(closing.port()) + "/gone", {}, "", 5000});
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.transport, HttpResult::Transport::kNoResponse);
  ASSERT_GE(closing.requests().size(), 1u);
  EXPECT_EQ(closing.requests()[0].rfind("GET /gone HTTP/1.1\r\n", 0), 0u);
}

TEST_P(HttpClientContract, ConcurrentSendsEachGetTheirOwnResponse) {
  HttpClient& c = h_->client();
  std::atomic<int> wrong{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 10; ++i) {
        std::string tag = std::to_string(t) + "-" + std::to_string(i);
        auto r = c.send({"POST", base_ + "/echo", {{"X-Tag", tag}}, "body-" + tag, 5000});
        if (!r.ok() || r.response.status != 202 || r.response.body != "body-" + tag ||
            r.response.header("x-echo-tag") != tag) {
          ++wrong;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(wrong.load(), 0);
  EXPECT_EQ(seen().size(), 40u);
}

// ---------------------------------------------------------------------------------------
// Erasure (`memberflow erase`, issue 18): what each port does to forget one member. A store
// that cannot erase yet (FailedPrecondition) skips.

TEST_P(MemberStoreContract, EraseKeepsIdsVersionsAndHistoryAndEmitsMemberErased) {
  ASSERT_TRUE(put("E1", sampleMember("E1"), 10, "e1-k1").isOk());
  ASSERT_TRUE(put("E1", sampleMember("E1", "Byron"), 20, "e1-k2").isOk());
  ASSERT_TRUE(put("E2", sampleMember("E2"), 10, "e2-k1").isOk());
  auto e = h_->store().erase("E1", now_++);
  if (!e.isOk() && e.status().code() == Code::kFailedPrecondition) {
    GTEST_SKIP() << e.status().toString();
  }
  ASSERT_TRUE(e.isOk()) << e.status().toString();
  EXPECT_TRUE(e->known);
  EXPECT_FALSE(e->alreadyErased);
  EXPECT_FALSE(e->eventId.empty());
  EXPECT_EQ(e->version, 3);
  EXPECT_EQ(e->replays, 2);
  EXPECT_EQ(e->outbox, 2);       // its two unsent events
  EXPECT_EQ(e->historyRows, 3);  // two kept, the erasure's

  // The row: id, version, sequence and times; no content; a tombstone (GET: 404).
  auto got = h_->store().get("E1");
  ASSERT_TRUE(got.isOk());
  EXPECT_TRUE(got->deleted);
  EXPECT_EQ(got->version, 3);
  EXPECT_EQ(got->sourceSequence, 20);
  EXPECT_EQ(got->member.memberId, "E1");
  EXPECT_EQ(got->member.name.last, "");
  EXPECT_EQ(got->member.birthDate, "");
  // History: kept, plus the erasure.
  auto hist = h_->store().history("E1");
  ASSERT_TRUE(hist.isOk());
  ASSERT_EQ(hist->size(), 3u);
  EXPECT_EQ((*hist)[0].op, "created");
  EXPECT_EQ((*hist)[2].op, "erased");
  EXPECT_EQ((*hist)[2].eventId, e->eventId);
  EXPECT_EQ((*hist)[2].version, 3);
  // The outbox: E2's event and E1's member.erased, without member data.
  auto ob = h_->store().outbox(100);
  ASSERT_TRUE(ob.isOk());
  std::vector<std::string> types;
  for (const auto& o : *ob) {
    auto ev = json::parse(o.event).as_object();
    types.push_back(o.memberId + " " + std::string(ev.at("type").as_string()));
    if (o.memberId == "E1") {
      EXPECT_EQ(o.eventId, e->eventId);
      EXPECT_TRUE(ev.at("data").at("member").is_null());
      EXPECT_EQ(o.event.find("Byron"), std::string::npos);
    }
  }
  EXPECT_EQ(types, (std::vector<std::string>{"E2 member.created", "E1 member.erased"}));
  // The idempotency records are gone: a repeat is judged afresh (stale), not replayed.
  EXPECT_EQ(put("E1", sampleMember("E1", "Byron"), 20, "e1-k2")->result, WriteResult::kStale);
  EXPECT_EQ(put("E2", sampleMember("E2"), 10, "e2-k1")->result, WriteResult::kReplayed);

  // Again: nothing more to erase, no second event.
  auto again = h_->store().erase("E1", now_++);
  ASSERT_TRUE(again.isOk());
  EXPECT_TRUE(again->alreadyErased);
  EXPECT_TRUE(again->eventId.empty());
  EXPECT_EQ(*h_->store().outboxCount(), 2);
  // A later change of the member applies as new data.
  auto back = put("E1", sampleMember("E1", "Newdata"), 30);
  ASSERT_TRUE(back.isOk());
  EXPECT_EQ(back->result, WriteResult::kCreated);
  EXPECT_EQ(back->member->version, 4);
  EXPECT_EQ(h_->store().get("E1")->member.name.last, "Newdata");
  // A member never seen: nothing written.
  auto none = h_->store().erase("E-none", now_++);
  ASSERT_TRUE(none.isOk());
  EXPECT_FALSE(none->known);
  EXPECT_TRUE(none->eventId.empty());
  EXPECT_EQ(h_->store().get("E-none").status().code(), Code::kNotFound);
}

TEST_P(MemberStoreContract, ErasuresAreRecordedForAudit) {
  ErasureRecord r{"E3", 1767225600000, "right to deletion", json::object{{"archiveLines", 4}}};
  Status s = h_->store().recordErasure(r);
  if (s.code() == Code::kFailedPrecondition) GTEST_SKIP() << s.toString();
  ASSERT_TRUE(s.isOk()) << s.toString();
  ASSERT_TRUE(h_->store().recordErasure({"E3", r.atMs + 1, "again", {}}).isOk());
  auto got = h_->store().erasures("E3");
  ASSERT_TRUE(got.isOk());
  ASSERT_EQ(got->size(), 2u);
  EXPECT_EQ((*got)[0].reason, "right to deletion");
  EXPECT_EQ((*got)[0].atMs, r.atMs);
  EXPECT_EQ(json::serialize((*got)[0].counts), R"({"archiveLines":4})");
  EXPECT_EQ((*got)[1].reason, "again");
  EXPECT_TRUE(h_->store().erasures("E4")->empty());
}

TEST_P(ParkingStoreContract, EraseForgetsTheMemberAndItsHeldChanges) {
  ASSERT_TRUE(h_->store().park("P1", "d1", "http_422", now_).isOk());
  ASSERT_TRUE(h_->store().hold("P1", {change("c1"), change("c2")}, now_).isOk());
  ASSERT_TRUE(h_->store().park("P2", "d2", "http_422", now_).isOk());
  ASSERT_TRUE(h_->store().hold("P2", {change("c3")}, now_).isOk());
  auto n = h_->store().erase("P1");
  if (!n.isOk() && n.status().code() == Code::kFailedPrecondition) {
    GTEST_SKIP() << n.status().toString();
  }
  ASSERT_TRUE(n.isOk()) << n.status().toString();
  EXPECT_EQ(*n, 2);
  EXPECT_FALSE(stateOf("P1").has_value());
  EXPECT_TRUE(heldIds("P1").empty());
  EXPECT_EQ(heldIds("P2"), (std::vector<std::string>{"c3"}));
  ASSERT_TRUE(stateOf("P2").has_value());
  auto again = h_->store().erase("P1");
  ASSERT_TRUE(again.isOk());
  EXPECT_EQ(*again, 0);
}

TEST_P(LakeJournalContract, RestageReplacesAStagedObjectsContentOnly) {
  ASSERT_TRUE(h_->journal().stage({"lake/x-1", "old"}, {"ev-r1", "ev-r2"}).isOk());
  ASSERT_TRUE(h_->journal().restage({"lake/x-1", "new"}).isOk());
  auto staged = h_->journal().staged();
  ASSERT_TRUE(staged.isOk());
  ASSERT_EQ(staged->size(), 1u);
  EXPECT_EQ((*staged)[0].content, "new");
  EXPECT_EQ(*h_->journal().placed({"ev-r1", "ev-r2", "ev-r3"}),
            (std::vector<bool>{true, true, false}));
  ASSERT_TRUE(h_->journal().written("lake/x-1").isOk());
  EXPECT_EQ(h_->journal().restage({"lake/x-1", "newer"}).code(), Code::kNotFound);
  EXPECT_EQ(h_->journal().restage({"lake/never", "x"}).code(), Code::kNotFound);
}

}  // namespace memberflow::contracts
