// The SQLite member store's own schema: a data directory made before the outbox lost its
// UNIQUE(event_id) is rebuilt without it on open, its entries and AUTOINCREMENT high-water
// mark kept (relay must see the same entries under the same seqs, and new ones after them).
#include "adapters/embedded/sqlite_member_store.h"

#include <gtest/gtest.h>

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

}  // namespace
}  // namespace memberflow
