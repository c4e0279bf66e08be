// The SQLite layer of the embedded adapters: scrubDatabase (`memberflow erase`) leaves no
// deleted bytes in the database's files, even from a connection that did not overwrite them.
#include "adapters/embedded/sqlite.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <set>

#include "support/test_support.h"

namespace memberflow {
namespace {

using testing::TempDir;
namespace emb = memberflow::embedded;

std::string bytesOf(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}

TEST(SqliteScrub, DeletedRowsLeaveNoBytesBehind) {
  TempDir dir;
  const std::string path = dir.file("x.db");
  const std::string secret = "ada.lovelace.1815@example.org";
  {
    auto db = *emb::SqliteDb::open(path, {});
    // As a build of SQLite without SECURE_DELETE by default would: deleted cells stay.
    ASSERT_TRUE(db->exec("PRAGMA secure_delete=OFF").isOk());
    ASSERT_TRUE(db->exec("CREATE TABLE t(k INTEGER PRIMARY KEY, v TEXT)").isOk());
    for (int i = 0; i < 200; ++i) {
      auto ins = db->prepare("INSERT INTO t(v) VALUES(?)");
      ASSERT_TRUE(ins.isOk());
      (*ins)->bind(1, i == 100 ? secret : std::string(100, 'x'));
      ASSERT_TRUE((*ins)->run().isOk());
    }
    ASSERT_TRUE(db->exec("DELETE FROM t WHERE v LIKE 'ada%'").isOk());
    ASSERT_TRUE(db->exec("PRAGMA wal_checkpoint(TRUNCATE)").isOk());
  }
  // What a grep of the data directory would find without the scrub.
  ASSERT_NE(bytesOf(path).find(secret), std::string::npos);
  ASSERT_TRUE(emb::scrubDatabase(path).isOk());
  EXPECT_EQ(bytesOf(path).find(secret), std::string::npos);
  EXPECT_EQ(bytesOf(path + "-wal").find(secret), std::string::npos);
  // The rest is still there.
  auto db = *emb::SqliteDb::open(path, {});
  auto n = db->prepare("SELECT count(*) FROM t");
  ASSERT_TRUE(n.isOk() && (*n)->step().isOk());
  EXPECT_EQ((*n)->i64(0), 199);
}

// A database another connection holds in a read transaction cannot be emptied of its WAL.
TEST(SqliteScrub, RefusesADatabaseInUse) {
  TempDir dir;
  const std::string path = dir.file("y.db");
  auto db = *emb::SqliteDb::open(path, {});
  ASSERT_TRUE(db->exec("CREATE TABLE t(v TEXT); INSERT INTO t VALUES('a'), ('b')").isOk());
  ASSERT_TRUE(db->exec("BEGIN").isOk());
  auto sel = db->prepare("SELECT v FROM t");
  ASSERT_TRUE(sel.isOk() && (*sel)->step().isOk());  // a read transaction stays open
  ASSERT_TRUE(db->exec("PRAGMA user_version").isOk());
  auto other = *emb::SqliteDb::open(path, {});
  ASSERT_TRUE(other->exec("INSERT INTO t VALUES('c')").isOk());
  EXPECT_EQ(emb::scrubDatabase(path).code(), Code::kFailedPrecondition);
  (*sel)->reset();
  ASSERT_TRUE(db->exec("COMMIT").isOk());
}

std::unique_ptr<emb::SqliteDb> openWithBackgroundCheckpoint(const std::string& path,
                                                            int backstopPages = 16384) {
  emb::SqliteDb::Options opts;
  opts.backgroundCheckpoint = true;
  opts.walBackstopPages = backstopPages;
  return *emb::SqliteDb::open(path, opts);
}

// With backgroundCheckpoint a thread of the SqliteDb checkpoints (a checkpoint's copy and fsync
// stalled the commit that triggered it), so the WAL's pages reach the database file without the
// committing connection; that one checkpoints only past walBackstopPages (the next test).
TEST(SqliteCheckpoint, InTheBackgroundTheThreadCheckpoints) {
  TempDir dir;
  const std::string path = dir.file("z.db");
  auto db = openWithBackgroundCheckpoint(path);
  auto ac = db->prepare("PRAGMA wal_autocheckpoint");
  ASSERT_TRUE(ac.isOk() && *(*ac)->step());
  EXPECT_EQ((*ac)->i64(0), emb::SqliteDb::Options{}.walBackstopPages);
  (*ac)->reset();
  ASSERT_TRUE(db->exec("CREATE TABLE t(v TEXT)").isOk());
  for (int i = 0; i < 2000; ++i) {  // ~2 MB, in the WAL first, below the backstop
    auto ins = db->prepare("INSERT INTO t VALUES(?)");
    ASSERT_TRUE(ins.isOk());
    (*ins)->bind(1, std::string(1000, static_cast<char>('a' + i % 26)));
    ASSERT_TRUE((*ins)->run().isOk());
  }
  ASSERT_TRUE(db->waitForCheckpoint(std::chrono::seconds(60)))
      << "no background checkpoint copied the WAL";
  EXPECT_GE(std::filesystem::file_size(path), 1'000'000u)
      << "the background checkpoint never copied the WAL into the database file";
}

// The WAL header's checkpoint sequence number (bytes 12-15, big-endian), which SQLite raises
// each time it restarts the WAL from its start; 0 when there is no header yet.
uint32_t walCheckpointSequence(const std::string& wal) {
  std::ifstream f(wal, std::ios::binary);
  unsigned char b[16] = {};
  if (!f.read(reinterpret_cast<char*>(b), sizeof b)) return 0;
  return (uint32_t{b[12]} << 24) | (uint32_t{b[13]} << 16) | (uint32_t{b[14]} << 8) | b[15];
}

// Commits back to back: the background checkpoint copies what the WAL held when it began, the
// writer has added frames by the time it ends, so the WAL is never wholly copied when the next
// write begins, and SQLite restarts it from its start only then. Without the committing
// connection's own checkpoint past walBackstopPages the WAL grew for as long as the writes
// went on (a queue database's reached 909 MB in 9 s of the fan-out): here it restarts again and
// again. (A commit's checkpoint gives up while the thread's holds the lock, so how far past the
// backstop the WAL gets depends on the disk; the restarts do not.)
TEST(SqliteCheckpoint, SustainedCommitsKeepRestartingTheWal) {
  TempDir dir;
  const std::string path = dir.file("w.db");
  constexpr int kBackstop = 1024;  // 4 MB: the mechanism at a twelfth of the writes
  auto db = openWithBackgroundCheckpoint(path, kBackstop);
  ASSERT_TRUE(db->exec("CREATE TABLE t(k INTEGER PRIMARY KEY, v TEXT)").isOk());
  const std::string wal = path + "-wal";
  uintmax_t largest = 0;
  std::set<uint32_t> sequences;
  // 12,288 commits of a 3,000-byte row (a frame each) over 1,000 keys: ~50 MB through the WAL,
  // 12 times the backstop.
  for (int i = 0; i < 12 * kBackstop; ++i) {
    auto up = db->prepare("INSERT OR REPLACE INTO t(k, v) VALUES(?, ?)");
    ASSERT_TRUE(up.isOk());
    (*up)->bind(1, int64_t{i % 1000}).bind(2, std::string(3000, static_cast<char>('a' + i % 26)));
    ASSERT_TRUE((*up)->run().isOk());
    if (i % 100 == 0) {
      std::error_code ec;
      largest = std::max(largest, std::filesystem::file_size(wal, ec));
      sequences.insert(walCheckpointSequence(wal));
    }
  }
  EXPECT_GE(sequences.size(), 4u) << "the WAL was restarted " << sequences.size() - 1
                                  << " times while 12 times the backstop went through it;"
                                  << " it reached " << largest << " bytes";
}

}  // namespace
}  // namespace memberflow
