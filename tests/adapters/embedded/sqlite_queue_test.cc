// What the SQLite queue adds to the Queue contract: outdated receipts, durability, sharing.
#include "adapters/embedded/sqlite_queue.h"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

#include "support/test_support.h"

namespace memberflow {
namespace {

#define EXPECT_CODE(expr, c) EXPECT_EQ((expr).code(), ::memberflow::Code::c)

using testing::ManualClock;
using testing::TempDir;
namespace emb = memberflow::embedded;

TEST(EmbeddedQueue, AnOutdatedReceiptDeletesNothingAndAgeIsKnown) {
  TempDir dir;
  ManualClock clock;
  auto store = *emb::SqliteQueueStore::open(dir.file("q.db"), clock);
  auto q = store->queue("q", {});
  ASSERT_TRUE(q->send({{"g", "d", "x", {}}}).isOk());
  EXPECT_GT(q->stats()->oldestSentAtMs, 0);
  auto r1 = *q->receive(1, 1000, 0);
  clock.advance(1500);
  auto r2 = *q->receive(1, 1000, 0);
  ASSERT_EQ(r2.size(), 1u);
  ASSERT_TRUE(q->remove({r1[0].receiptHandle}).isOk());
  clock.advance(1500);
  EXPECT_EQ(q->receive(1, 1000, 0)->size(), 1u);
}

// The dedup ids of messages whose window has passed are purged as sends go on: the table does
// not keep a row per message ever sent.
TEST(EmbeddedQueue, DedupIdsOutsideTheirWindowArePurged) {
  TempDir dir;
  ManualClock clock;
  auto store = *emb::SqliteQueueStore::open(dir.file("q.db"), clock);
  emb::QueueOptions o;
  o.dedupWindowMs = 1000;
  auto q = store->queue("q", o);
  auto dedupRows = [&] {
    auto db = *emb::SqliteDb::open(dir.file("q.db"), {});
    auto n = db->prepare("SELECT count(*) FROM dedup");
    return n.isOk() && *(*n)->step() ? (*n)->i64(0) : int64_t{-1};
  };
  for (int i = 0; i < 10; ++i)
    ASSERT_TRUE(q->send({{"g", "old-" + std::to_string(i), "x", {}}}).isOk());
  EXPECT_EQ(dedupRows(), 10);
  clock.advance(2000);  // the ten are past their window
  for (size_t i = 0; i < emb::SqliteQueueStore::kPurgeEvery; ++i)
    ASSERT_TRUE(q->send({{"g", "new-" + std::to_string(i), "x", {}}}).isOk());
  EXPECT_EQ(dedupRows(), static_cast<int64_t>(emb::SqliteQueueStore::kPurgeEvery));
  // Within its window an id still drops a second copy.
  ASSERT_TRUE(q->send({{"g", "new-1", "x", {}}}).isOk());
  EXPECT_EQ(q->stats()->visible, static_cast<int64_t>(10 + emb::SqliteQueueStore::kPurgeEvery));
}

// A data directory written before the queue kept its receive state apart from the bodies (one
// `messages` table): opening it moves every message over, in flight or not, with its id,
// receipt and receive count, and new ids continue after the old ones.
TEST(EmbeddedQueue, AQueueFileFromBeforeTheSplitKeepsItsMessagesAndReceipts) {
  TempDir dir;
  ManualClock clock;
  int64_t now = clock.nowMs();
  {
    auto db = *emb::SqliteDb::open(dir.file("q.db"), {});
    ASSERT_TRUE(db->exec("CREATE TABLE messages(id INTEGER PRIMARY KEY AUTOINCREMENT,"
                         " queue TEXT NOT NULL, group_id TEXT NOT NULL, dedup_id TEXT NOT NULL,"
                         " body BLOB NOT NULL, attrs TEXT NOT NULL, sent_at INTEGER NOT NULL,"
                         " visible_at INTEGER NOT NULL, receive_count INTEGER NOT NULL DEFAULT 0,"
                         " receipt TEXT)")
                    .isOk());
    auto ins = *db->prepare(
        "INSERT INTO messages(id, queue, group_id, dedup_id, body, attrs, sent_at, visible_at,"
        " receive_count, receipt) VALUES(?, 'q', ?, ?, ?, '{}', ?, ?, ?, ?)");
    // 7: in flight for 10 s more, received twice; 8: the same group, waiting behind it;
    // 9: another group, never received. Ids 1-6 were sent and deleted before.
    struct Row {
      int64_t id;
      const char* group;
      int64_t visibleAt, receiveCount;
      const char* receipt;
    };
    for (const Row& r : {Row{7, "a", now + 10000, 2, "7.aaaa"}, Row{8, "a", now, 0, nullptr},
                         Row{9, "b", now, 0, nullptr}}) {
      ins->reset();
      ins->bind(1, r.id).bind(2, r.group).bind(3, "d" + std::to_string(r.id));
      ins->bind(4, "body-" + std::to_string(r.id)).bind(5, now).bind(6, r.visibleAt);
      ins->bind(7, r.receiveCount);
      if (r.receipt) ins->bind(8, r.receipt);
      ASSERT_TRUE(ins->run().isOk());
    }
    ASSERT_TRUE(db->exec("UPDATE sqlite_sequence SET seq = 12 WHERE name = 'messages'").isOk());
  }
  auto store = *emb::SqliteQueueStore::open(dir.file("q.db"), clock);
  auto q = store->queue("q", {});
  auto stats = *q->stats();
  EXPECT_EQ(stats.visible, 2);
  EXPECT_EQ(stats.inFlight, 1);
  // Group a is blocked behind its message in flight; b delivers.
  auto first = *q->receive(10, 1000, 0);
  ASSERT_EQ(first.size(), 1u);
  EXPECT_EQ(first[0].body, "body-9");
  // Message 7 kept its receive count; the receipt handed out before the upgrade still deletes
  // it, and group a goes on.
  auto peeked = *q->peek(10);
  ASSERT_EQ(peeked.size(), 3u);
  EXPECT_EQ(peeked[0].messageId, "7");
  EXPECT_EQ(peeked[0].receiveCount, 2);
  ASSERT_TRUE(q->remove({"7.aaaa"}).isOk());
  auto second = *q->receive(10, 1000, 0);
  ASSERT_EQ(second.size(), 1u);
  EXPECT_EQ(second[0].body, "body-8");
  EXPECT_EQ(second[0].receiveCount, 1);
  // New messages take ids after the last one ever given, not after the last one left.
  ASSERT_TRUE(q->send({{"c", "new", "x", {}}}).isOk());
  auto third = *q->receive(10, 1000, 0);
  ASSERT_EQ(third.size(), 1u);
  EXPECT_EQ(third[0].messageId, "13");
  // Opening it again finds nothing left to move.
  auto again = *emb::SqliteQueueStore::open(dir.file("q.db"), clock);
  EXPECT_EQ(again->queue("q", {})->stats()->inFlight, 3);
}

TEST(EmbeddedDurability, QueueMessagesSurviveReopen) {
  TempDir dir;
  ManualClock clock;
  {
    auto store = *emb::SqliteQueueStore::open(dir.file("q.db"), clock);
    ASSERT_TRUE(store->queue("q", {})->send({{"g", "d", "kept", {}}}).isOk());
  }
  auto store = *emb::SqliteQueueStore::open(dir.file("q.db"), clock);
  auto r = store->queue("q", {})->receive(1, 1000, 0);
  ASSERT_EQ(r->size(), 1u);
  EXPECT_EQ((*r)[0].body, "kept");
}

TEST(EmbeddedDurability, TwoProcessesShareOneQueueFile) {
  TempDir dir;
  ManualClock clock;
  auto a = *emb::SqliteQueueStore::open(dir.file("q.db"), clock);
  auto b = *emb::SqliteQueueStore::open(dir.file("q.db"), clock);
  ASSERT_TRUE(a->queue("q", {})->send({{"g", "1", "x", {}}}).isOk());
  EXPECT_EQ(b->queue("q", {})->receive(1, 1000, 0)->size(), 1u);
  EXPECT_TRUE(a->queue("q", {})->receive(1, 1000, 0)->empty());  // in flight, seen by both
}

// A new file opened by several connections at once (a starting `run` and an operator's
// `status`): every open succeeds, none sees "database is locked".
TEST(EmbeddedDurability, ConnectionsOpeningOneNewFileAtOnceAllSucceed) {
  TempDir dir;
  ManualClock clock;
  for (int round = 0; round < 20; ++round) {
    std::string path = dir.file("new-" + std::to_string(round) + ".db");
    std::vector<std::string> failures(6);
    std::vector<std::thread> threads;
    for (size_t t = 0; t < failures.size(); ++t) {
      threads.emplace_back([&, t] {
        auto store = emb::SqliteQueueStore::open(path, clock);
        if (!store.isOk()) failures[t] = store.status().toString();
      });
    }
    for (auto& t : threads) t.join();
    for (const auto& f : failures) EXPECT_EQ(f, "") << "round " << round;
  }
}

}  // namespace
}  // namespace memberflow
