// The SQLite member store's group commit and its own schema. The group commit: a batch (one
// applyAll) is one transaction, never split over two, even while single writes queue around it.
// The schema: a data directory made before the outbox lost its
// UNIQUE(event_id) is rebuilt without it on open, its entries and AUTOINCREMENT high-water
// mark kept (relay must see the same entries under the same seqs, and new ones after them).
#include "adapters/embedded/sqlite_member_store.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <vector>

#include "adapters/embedded/sqlite.h"
#include "support/test_support.h"

namespace memberflow {
namespace {

using testing::TempDir;
namespace emb = memberflow::embedded;

StoreWrite writeOf(const std::string& id) {
  StoreWrite w;
  w.memberId = id;
  Member m;
  m.memberId = id;
  m.name = {"Ada", std::nullopt, "Lovelace", std::nullopt};
  m.birthDate = "1990-01-31";
  m.gender = Gender::kFemale;
  m.status = MemberStatus::kActive;
  w.content = [m](const StoredMember*) -> Result<Member> { return m; };
  w.lineage = json::object{};
  w.nowMs = 1;
  return w;
}

// Counts the members whose id starts with `prefix`.
int64_t membersLike(emb::SqliteDb& db, const std::string& prefix) {
  auto sel = db.prepare("SELECT count(*) FROM members WHERE member_id LIKE ?");
  if (!sel.isOk()) return -1;
  (*sel)->bind(1, prefix + "%");
  if (auto r = (*sel)->step(); !r.isOk() || !*r) return -1;
  int64_t n = (*sel)->i64(0);
  (*sel)->reset();
  return n;
}

// A batch is one transaction while other writers keep the group commit busy (a group holds up
// to 512 writes: a batch of 500 queued behind another batch once went partly into its group): a
// deferred foreign key that only COMMIT checks, broken by one write of the batch, fails every write
// of the batch and leaves none of it. A batch split over two commits would leave part of it.
TEST(SqliteMemberStoreGroupCommit, ABatchIsOneTransactionWhileOtherWritesQueueAroundIt) {
  TempDir dir;
  const std::string path = dir.file("members.db");
  auto store = emb::SqliteMemberStore::open(path, {});
  ASSERT_TRUE(store.isOk()) << store.status().toString();
  auto db = *emb::SqliteDb::open(path, {});
  ASSERT_TRUE(db->exec("CREATE TABLE parent(id TEXT PRIMARY KEY);"
                       "CREATE TABLE child(ref TEXT REFERENCES parent(id)"
                       " DEFERRABLE INITIALLY DEFERRED);"
                       "CREATE TRIGGER refuse_bad AFTER INSERT ON members"
                       " WHEN NEW.member_id LIKE 'B%-250'"
                       " BEGIN INSERT INTO child VALUES('missing'); END;")
                  .isOk());

  // Other writers keep the group commit busy: two with batches of 100 (as the API's threads
  // do with sync's batches), one with single writes.
  std::atomic<bool> stop{false};
  std::mutex progressMu;
  std::condition_variable progressed;
  int64_t others = 0;  // writes of the other writers applied, under progressMu
  std::vector<std::thread> writers;
  struct Joiner {  // a failed ASSERT returns early: the writers stop and are joined even then
    std::atomic<bool>& stop;
    std::vector<std::thread>& threads;
    ~Joiner() {
      stop = true;
      for (auto& t : threads) {
        if (t.joinable()) t.join();
      }
    }
  } joiner{stop, writers};
  for (int t = 0; t < 3; ++t) {
    writers.emplace_back([&, t] {
      const size_t size = t < 2 ? 100 : 1;
      for (int i = 0; !stop; ++i) {
        std::vector<StoreWrite> ws;
        for (size_t j = 0; j < size; ++j) {
          ws.push_back(
              writeOf("S" + std::to_string(t) + "-" + std::to_string(i) + "-" + std::to_string(j)));
        }
        std::vector<const StoreWrite*> ptrs;
        for (const auto& w : ws) ptrs.push_back(&w);
        int64_t applied = 0;
        for (const auto& o : (*store)->applyAll(ptrs)) applied += o.isOk() ? 1 : 0;
        {
          std::lock_guard lock(progressMu);
          others += applied;
        }
        progressed.notify_all();
      }
    });
  }
  // The other writers are committing before the batches start.
  {
    std::unique_lock lock(progressMu);
    ASSERT_TRUE(progressed.wait_for(lock, std::chrono::seconds(60), [&] { return others >= 300; }))
        << "the other writers made no progress";
  }

  constexpr int kRounds = 10;
  constexpr int kBatch = 500;
  for (int round = 0; round < kRounds; ++round) {
    const std::string prefix = "B" + std::to_string(round) + "-";
    std::vector<StoreWrite> batch;
    for (int i = 0; i < kBatch; ++i) batch.push_back(writeOf(prefix + std::to_string(i)));
    std::vector<const StoreWrite*> ptrs;
    for (const auto& w : batch) ptrs.push_back(&w);
    auto out = (*store)->applyAll(ptrs);
    ASSERT_EQ(out.size(), ptrs.size());
    for (size_t i = 0; i < out.size(); ++i) {
      EXPECT_FALSE(out[i].isOk()) << "round " << round << " write " << i << " applied";
    }
    EXPECT_EQ(membersLike(*db, prefix), 0) << "round " << round << ": part of the batch stayed";
  }
  // The same batch without the refused write applies whole.
  std::vector<StoreWrite> good;
  for (int i = 0; i < kBatch; ++i) good.push_back(writeOf("G-" + std::to_string(i)));
  std::vector<const StoreWrite*> ptrs;
  for (const auto& w : good) ptrs.push_back(&w);
  for (const auto& o : (*store)->applyAll(ptrs)) EXPECT_TRUE(o.isOk()) << o.status().toString();
  stop = true;
  for (auto& w : writers) w.join();
  EXPECT_EQ(membersLike(*db, "G-"), kBatch);
  EXPECT_GT(membersLike(*db, "S"), 0);
}

// A write whose content throws fails alone, as a failed write does; the writes around it apply
// and the store goes on taking writes.
TEST(SqliteMemberStoreGroupCommit, AWriteThatThrowsFailsAlone) {
  TempDir dir;
  auto store = emb::SqliteMemberStore::open(dir.file("members.db"), {});
  ASSERT_TRUE(store.isOk()) << store.status().toString();
  std::vector<StoreWrite> batch{writeOf("T1"), writeOf("T2"), writeOf("T3")};
  batch[1].content = [](const StoredMember*) -> Result<Member> {
    throw std::runtime_error("a bug in a content callback");
  };
  std::vector<const StoreWrite*> ptrs{&batch[0], &batch[1], &batch[2]};
  auto out = (*store)->applyAll(ptrs);
  ASSERT_EQ(out.size(), 3u);
  EXPECT_TRUE(out[0].isOk());
  ASSERT_FALSE(out[1].isOk());
  EXPECT_EQ(out[1].status().code(), Code::kInternal);
  EXPECT_TRUE(out[2].isOk());
  EXPECT_EQ((*store)->get("T2").status().code(), Code::kNotFound);
  EXPECT_TRUE((*store)->apply(writeOf("T4")).isOk());
  EXPECT_TRUE((*store)->get("T4").isOk());
}

TEST(SqliteMemberStoreSchema, OutboxOfAnOldDataDirectoryLosesItsUniqueIndexAndKeepsItsSeqs) {
  TempDir dir;
  const std::string path = dir.file("members.db");
  {
    auto db = *emb::SqliteDb::open(path, {});
    ASSERT_TRUE(db->exec("CREATE TABLE outbox(seq INTEGER PRIMARY KEY AUTOINCREMENT,"
                         " event_id TEXT NOT NULL UNIQUE, member_id TEXT NOT NULL,"
                         " event TEXT NOT NULL, created_at INTEGER NOT NULL);")
                    .isOk());
    for (int i = 1; i <= 5; ++i) {
      std::string n = std::to_string(i);
      ASSERT_TRUE(db->exec("INSERT INTO outbox(event_id, member_id, event, created_at) VALUES('e" +
                           n + "', 'M" + n + "', '{}', " + n + ")")
                      .isOk());
    }
    // Relay took the first three and the last: seq 4 is left, the high-water mark is 5.
    ASSERT_TRUE(db->exec("DELETE FROM outbox WHERE seq IN (1, 2, 3, 5)").isOk());
  }
  auto store = emb::SqliteMemberStore::open(path, {});
  ASSERT_TRUE(store.isOk()) << store.status().toString();
  auto left = (*store)->outbox(10);
  ASSERT_TRUE(left.isOk());
  ASSERT_EQ(left->size(), 1u);
  EXPECT_EQ((*left)[0].seq, 4);
  EXPECT_EQ((*left)[0].eventId, "e4");
  EXPECT_EQ((*left)[0].memberId, "M4");

  ASSERT_TRUE((*store)->apply(writeOf("M9")).isOk());
  auto after = (*store)->outbox(10);
  ASSERT_TRUE(after.isOk());
  ASSERT_EQ(after->size(), 2u);
  EXPECT_EQ((*after)[1].seq, 6) << "a new entry must come after every seq relay has seen";
  EXPECT_EQ((*after)[1].memberId, "M9");
  store->reset();

  auto db = *emb::SqliteDb::open(path, {});
  auto sel = db->prepare("SELECT sql FROM sqlite_master WHERE name = 'outbox'");
  ASSERT_TRUE(sel.isOk());
  ASSERT_TRUE(*(*sel)->step());
  EXPECT_EQ((*sel)->str(0).find("UNIQUE"), std::string::npos) << (*sel)->str(0);
  (*sel)->reset();
  auto idx = db->prepare(
      "SELECT group_concat(name) FROM sqlite_master WHERE tbl_name = 'outbox' AND type = 'index'");
  ASSERT_TRUE(idx.isOk());
  ASSERT_TRUE(*(*idx)->step());
  EXPECT_EQ((*idx)->str(0), "outbox_created");
}

// Data directories whose members and write_replays were WITHOUT ROWID tables (rows over ~1 KB
// spilled into an overflow page each) get both rebuilt as rowid tables: the member, its
// version, its replay and the indexes are all still there.
TEST(SqliteMemberStoreSchema, MembersAndReplaysOfAnOldDataDirectoryBecomeRowidTables) {
  TempDir dir;
  StoreWrite first = writeOf("M1");
  first.idempotencyKey = "k1";
  first.requestFingerprint = "f1";
  // The rows a write leaves, made by the current store in a scratch file.
  std::vector<std::string> member, replay;
  {
    auto scratch = *emb::SqliteMemberStore::open(dir.file("scratch.db"), {});
    ASSERT_TRUE(scratch->apply(first).isOk());
    scratch.reset();
    auto db = *emb::SqliteDb::open(dir.file("scratch.db"), {});
    auto rowOf = [&](const char* sql, int columns) {
      std::vector<std::string> row;
      auto sel = *db->prepare(sql);
      EXPECT_TRUE(*sel->step());
      for (int i = 0; i < columns; ++i) row.push_back(sel->str(i));
      sel->reset();
      return row;
    };
    member = rowOf(
        "SELECT member_id, body, version, source_sequence, updated_at, deleted"
        " FROM members",
        6);
    replay = rowOf("SELECT key, fingerprint, result, member, expires_at FROM write_replays", 5);
  }
  const std::string path = dir.file("members.db");
  {
    auto db = *emb::SqliteDb::open(path, {});
    ASSERT_TRUE(db->exec("CREATE TABLE members(member_id TEXT PRIMARY KEY, body TEXT NOT NULL,"
                         " version INTEGER NOT NULL, source_sequence INTEGER NOT NULL,"
                         " updated_at INTEGER NOT NULL, deleted INTEGER NOT NULL) WITHOUT ROWID;"
                         "CREATE INDEX members_updated ON members(updated_at, member_id);"
                         "CREATE TABLE write_replays(key TEXT PRIMARY KEY,"
                         " fingerprint TEXT NOT NULL, result TEXT NOT NULL, member TEXT NOT NULL,"
                         " expires_at INTEGER NOT NULL) WITHOUT ROWID;"
                         "CREATE INDEX write_replays_expiry ON write_replays(expires_at);")
                    .isOk());
    auto m = *db->prepare("INSERT INTO members VALUES(?, ?, ?, ?, ?, ?)");
    for (int i = 0; i < 6; ++i) m->bind(i + 1, member[i]);
    ASSERT_TRUE(m->run().isOk());
    auto r = *db->prepare("INSERT INTO write_replays VALUES(?, ?, ?, ?, ?)");
    for (int i = 0; i < 5; ++i) r->bind(i + 1, replay[i]);
    ASSERT_TRUE(r->run().isOk());
  }
  auto store = emb::SqliteMemberStore::open(path, {});
  ASSERT_TRUE(store.isOk()) << store.status().toString();
  auto got = (*store)->get("M1");
  ASSERT_TRUE(got.isOk()) << got.status().toString();
  EXPECT_EQ(got->version, 1);
  EXPECT_EQ(got->member.name.last, "Lovelace");
  auto again = (*store)->apply(first);  // the same key: its first outcome, replayed
  ASSERT_TRUE(again.isOk());
  EXPECT_EQ(again->result, WriteResult::kReplayed);
  StoreWrite second = writeOf("M1");
  second.idempotencyKey = "k2";
  second.requestFingerprint = "f2";
  second.content = [](const StoredMember* cur) -> Result<Member> {
    Member m = cur->member;
    m.status = MemberStatus::kInactive;
    return m;
  };
  auto next = (*store)->apply(second);
  ASSERT_TRUE(next.isOk());
  EXPECT_EQ(next->result, WriteResult::kUpdated);
  EXPECT_EQ((*store)->get("M1")->version, 2);
  store->reset();

  auto db = *emb::SqliteDb::open(path, {});
  auto sel = *db->prepare(
      "SELECT group_concat(name || ':' || (instr(sql, 'WITHOUT ROWID') > 0), ',') FROM"
      " (SELECT name, sql FROM sqlite_master WHERE type = 'table' AND"
      " name IN ('members', 'write_replays') ORDER BY name)");
  ASSERT_TRUE(*sel->step());
  EXPECT_EQ(sel->str(0), "members:0,write_replays:0");
  sel->reset();
  auto idx = *db->prepare(
      "SELECT group_concat(name, ',') FROM (SELECT name FROM sqlite_master WHERE type = 'index'"
      " AND name IN ('members_updated', 'write_replays_expiry') ORDER BY name)");
  ASSERT_TRUE(*idx->step());
  EXPECT_EQ(idx->str(0), "members_updated,write_replays_expiry");
}

// A write_replays table from before the version column (a rowid table already) gets the
// column at open; its records replay as before, and a minimal response's record made after
// keeps its version there.
TEST(SqliteMemberStoreSchema, ReplaysOfAnOldDataDirectoryGetTheVersionColumn) {
  TempDir dir;
  const std::string path = dir.file("members.db");
  StoreWrite first = writeOf("M1");
  first.idempotencyKey = "k1";
  first.requestFingerprint = "f1";
  {
    auto store = *emb::SqliteMemberStore::open(path, {});
    ASSERT_TRUE(store->apply(first).isOk());
  }
  {
    auto db = *emb::SqliteDb::open(path, {});
    ASSERT_TRUE(db->exec("ALTER TABLE write_replays DROP COLUMN version").isOk());
  }
  auto store = emb::SqliteMemberStore::open(path, {});
  ASSERT_TRUE(store.isOk()) << store.status().toString();
  auto again = (*store)->apply(first);
  ASSERT_TRUE(again.isOk()) << again.status().toString();
  EXPECT_EQ(again->result, WriteResult::kReplayed);
  EXPECT_FALSE(again->replayedMinimal);
  EXPECT_EQ(again->member->member.name.last, "Lovelace");
  StoreWrite minimal = writeOf("M2");
  minimal.idempotencyKey = "k2";
  minimal.requestFingerprint = "f2";
  minimal.minimalResponse = true;
  ASSERT_TRUE((*store)->apply(minimal).isOk());
  auto repeat = (*store)->apply(minimal);
  ASSERT_TRUE(repeat.isOk()) << repeat.status().toString();
  EXPECT_TRUE(repeat->replayedMinimal);
  EXPECT_EQ(repeat->member->version, 1);
  store->reset();
  auto db = *emb::SqliteDb::open(path, {});
  auto sel = *db->prepare("SELECT member, version FROM write_replays WHERE key = 'k2'");
  ASSERT_TRUE(*sel->step());
  EXPECT_EQ(sel->str(0), "");  // what a release before the column replays as a status
  EXPECT_EQ(sel->i64(1), 1);
  sel->reset();
}

}  // namespace
}  // namespace memberflow
