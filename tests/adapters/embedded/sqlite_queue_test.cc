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
