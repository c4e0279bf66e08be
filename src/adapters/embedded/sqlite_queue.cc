#include "adapters/embedded/sqlite_queue.h"

#include <algorithm>
#include <chrono>

#include "common/crypto.h"
#include "common/json.h"

namespace memberflow::embedded {

namespace {

// Moves the messages of a data directory written before the split (one `messages` table whose
// rows held the receive state next to the body) into `queued` and `received`, in one
// transaction. The message ids, and the AUTOINCREMENT sequence, carry over: receipts name ids.
Status migrateMessagesTable(SqliteDb& db) {
  return upgradeIfDefinitionHas(
      db, "messages", "",
      "INSERT INTO queued(id, queue, group_id, dedup_id, body, attrs, sent_at)"
      " SELECT id, queue, group_id, dedup_id, body, attrs, sent_at FROM messages ORDER BY id;"
      "INSERT INTO received(id, queue, group_id, visible_at, receive_count, receipt)"
      " SELECT id, queue, group_id, visible_at, receive_count, coalesce(receipt, '')"
      " FROM messages WHERE receive_count > 0;"
      "DELETE FROM sqlite_sequence WHERE name = 'queued';"
      "INSERT INTO sqlite_sequence(name, seq)"
      " SELECT 'queued', seq FROM sqlite_sequence WHERE name = 'messages';"
      "DROP TABLE messages;");
}

}  // namespace

Result<std::shared_ptr<SqliteQueueStore>> SqliteQueueStore::open(const std::string& path,
                                                                 const Clock& clock,
                                                                 const SqliteDb::Options& opts) {
  auto db = SqliteDb::open(path, opts);
  if (!db.isOk()) return db.status();
  MF_RETURN_IF_ERROR((*db)->exec(
      // A message is written once, when it is sent, and deleted once: its row is never
      // updated. Receiving it writes a small row in `received` instead (below), so a receive
      // does not rewrite the body's pages, and the FIFO check reads only the small table.
      // (Before, one `messages` table held both, with an index on (queue, group_id, id): each
      // message's insert and delete then dirtied a random leaf of that index as well.)
      "CREATE TABLE IF NOT EXISTS queued(id INTEGER PRIMARY KEY AUTOINCREMENT,"
      " queue TEXT NOT NULL, group_id TEXT NOT NULL, dedup_id TEXT NOT NULL, body BLOB NOT NULL,"
      " attrs TEXT NOT NULL, sent_at INTEGER NOT NULL);"
      // Walks a queue in send order; count(*) of a backlog reads this index, not the bodies.
      "CREATE INDEX IF NOT EXISTS queued_queue ON queued(queue, id);"
      // The receive state of a message received at least once and not deleted yet: in flight
      // while visible_at is ahead, visible again (with its receive count kept) after. A
      // receipt handle is "<id>.<random>": deletes and visibility changes find the row by id.
      "CREATE TABLE IF NOT EXISTS received(id INTEGER PRIMARY KEY, queue TEXT NOT NULL,"
      " group_id TEXT NOT NULL, visible_at INTEGER NOT NULL, receive_count INTEGER NOT NULL,"
      " receipt TEXT NOT NULL);"
      // FIFO: is an earlier message of this group in flight?
      "CREATE INDEX IF NOT EXISTS received_group ON received(queue, group_id, id);"
      "CREATE TABLE IF NOT EXISTS dedup(queue TEXT NOT NULL, dedup_id TEXT NOT NULL,"
      " expires_at INTEGER NOT NULL, PRIMARY KEY(queue, dedup_id)) WITHOUT ROWID;"
      // For the purge of ids whose window has passed (sendLocked). Built with its sort in
      // temporary files: an old data directory's table holds every id ever sent.
      "PRAGMA temp_store=FILE;"
      "CREATE INDEX IF NOT EXISTS dedup_expiry ON dedup(expires_at);"
      "PRAGMA temp_store=MEMORY;"));
  MF_RETURN_IF_ERROR(migrateMessagesTable(**db));
  return std::shared_ptr<SqliteQueueStore>(new SqliteQueueStore(std::move(db).value(), clock));
}

std::unique_ptr<Queue> SqliteQueueStore::queue(const std::string& name, const QueueOptions& opts) {
  return std::make_unique<SqliteQueue>(shared_from_this(), name, opts);
}

Status SqliteQueueStore::sendLocked(const std::string& queue,
                                    const std::vector<OutgoingMessage>& messages,
                                    int64_t dedupWindowMs) {
  SqliteDb& db = *db_;
  int64_t now = clock_.nowMs();
  MF_PREPARE(dedup, db,
             "INSERT INTO dedup(queue, dedup_id, expires_at) VALUES(?, ?, ?)"
             " ON CONFLICT(queue, dedup_id) DO UPDATE SET expires_at = excluded.expires_at"
             " WHERE dedup.expires_at <= ?");
  MF_PREPARE(ins, db,
             "INSERT INTO queued(queue, group_id, dedup_id, body, attrs, sent_at)"
             " VALUES(?, ?, ?, ?, ?, ?)");
  for (const auto& m : messages) {
    if (!m.dedupId.empty()) {
      dedup->reset();
      dedup->bind(1, queue).bind(2, m.dedupId).bind(3, now + dedupWindowMs).bind(4, now);
      MF_RETURN_IF_ERROR(dedup->run());
      if (db.changes() == 0) continue;  // sent before within the window: accepted, dropped
    }
    ins->reset();
    ins->bind(1, queue).bind(2, m.groupId).bind(3, m.dedupId);
    ins->bindBlob(4, m.body);
    ins->bind(5, attributesJson(m.attributes)).bind(6, now);
    MF_RETURN_IF_ERROR(ins->run());
  }
  // Dedup ids whose window has passed go every kPurgeEvery messages sent, at most
  // kPurgeChunk at a time (an old data directory kept every id ever sent: its first purge must
  // not hold every queue up). Without this the table grew by a row per message, forever. A
  // failed purge fails no send: it is tried again at the next message.
  sentSincePurge_ += messages.size();
  if (sentSincePurge_ >= kPurgeEvery) {
    auto purge = db.prepare(
        "DELETE FROM dedup WHERE (queue, dedup_id) IN (SELECT queue, dedup_id FROM dedup"
        " WHERE expires_at <= ? LIMIT " +
        std::to_string(kPurgeChunk) + ")");
    if (purge.isOk()) {
      (*purge)->bind(1, now);
      if ((*purge)->run().isOk()) sentSincePurge_ = 0;
    }
  }
  return Status::ok();
}

Status SqliteQueueStore::sendToAll(const std::vector<std::string>& queues,
                                   const std::vector<OutgoingMessage>& messages,
                                   int64_t dedupWindowMs) {
  std::lock_guard lock(mu_);
  Transaction tx(*db_);
  MF_RETURN_IF_ERROR(tx.begin());
  for (const auto& q : queues) MF_RETURN_IF_ERROR(sendLocked(q, messages, dedupWindowMs));
  MF_RETURN_IF_ERROR(tx.commit());
  for (const auto& q : queues) changedLocked(q);
  return Status::ok();
}

Status SqliteQueue::send(const std::vector<OutgoingMessage>& messages) {
  return store_->sendToAll({name_}, messages, opts_.dedupWindowMs);
}

Result<std::vector<ReceivedMessage>> SqliteQueue::receiveOnce(size_t max, int64_t visibilityMs) {
  auto& st = *store_;
  SqliteDb& db = *st.db_;
  int64_t now = st.clock_.nowMs();
  // A message is deliverable when it is not in flight (no `received` row, or one whose
  // visibility has run out) and, FIFO, no earlier message of its group is in flight. Walking
  // by id and cutting with LIMIT keeps each group's prefix intact.
  // Nothing visible (an idle poll, the common case, or every message in flight: a consumer
  // holding a batch, a stalled target): answered by reads, without the write lock. In flight
  // is a subset of the queue's messages, so none is visible when there are no more messages
  // than the k in flight (and for a standard queue, some are when there are more; a FIFO
  // queue's may all wait behind their groups' heads, which the select below finds out), and
  // counting the queue's entries up to k + 1 tells: the cost follows what is in flight,
  // neither the backlog (a count of every entry took milliseconds a receive behind a backlog
  // of 100,000) nor a probe into `received` for each message at the head. (An index on
  // received(queue, visible_at) would make the count of what is in flight index-only, but it cost
  // every receive and delete a tenth of the queue's throughput in bench_stores.)
  MF_PREPARE(inFlight, db, "SELECT count(*) FROM received WHERE queue = ? AND visible_at > ?");
  inFlight->bind(1, name_).bind(2, now);
  auto counted = inFlight->step();
  if (!counted.isOk()) return counted.status();
  int64_t k = *counted ? inFlight->i64(0) : 0;
  inFlight->reset();
  MF_PREPARE(head, db, "SELECT count(*) FROM (SELECT 1 FROM queued WHERE queue = ? LIMIT ?)");
  head->bind(1, name_).bind(2, k + 1);
  auto stepped = head->step();
  if (!stepped.isOk()) return stepped.status();
  bool visible = *stepped && head->i64(0) > k;
  head->reset();
  if (!visible) return std::vector<ReceivedMessage>{};
  std::string sql =
      "SELECT m.id, m.group_id, m.dedup_id, m.body, m.attrs, m.sent_at,"
      " coalesce((SELECT r.receive_count FROM received r WHERE r.id = m.id), 0)"
      // Walks the queue by id (queued_queue), skipping what is in flight.
      " FROM queued m WHERE m.queue = ?1 AND NOT EXISTS (SELECT 1 FROM received f"
      " WHERE f.id = m.id AND f.visible_at > ?2)";
  if (opts_.fifo) {
    sql +=
        " AND NOT EXISTS (SELECT 1 FROM received e WHERE e.queue = ?1 AND"
        " e.group_id = m.group_id AND e.id < m.id AND e.visible_at > ?2)";
  }
  sql += " ORDER BY m.id LIMIT ?3";
  MF_PREPARE(sel, db, sql);
  MF_PREPARE(mark, db,
             "INSERT INTO received(id, queue, group_id, visible_at, receive_count, receipt)"
             " VALUES(?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT(id) DO UPDATE SET visible_at = ?4,"
             " receive_count = ?5, receipt = ?6");
  MF_PREPARE(move, db, "UPDATE queued SET queue = ?, attrs = ? WHERE id = ?");
  MF_PREPARE(unreceive, db, "DELETE FROM received WHERE id = ?");
  Transaction tx(db);
  MF_RETURN_IF_ERROR(tx.begin());
  std::vector<ReceivedMessage> out;
  struct Row {
    int64_t id;
    ReceivedMessage m;
  };
  std::vector<Row> rows;
  bool movedToDlq = false;
  sel->bind(1, name_).bind(2, now).bind(3, static_cast<int64_t>(max));
  for (;;) {
    auto r = sel->step();
    if (!r.isOk()) return r.status();
    if (!*r) break;
    Row row;
    row.id = sel->i64(0);
    row.m.messageId = std::to_string(row.id);
    row.m.groupId = sel->str(1);
    row.m.dedupId = sel->str(2);
    row.m.body = sel->str(3);
    row.m.attributes = attributesFrom(sel->str(4));
    row.m.sentAtMs = sel->i64(5);
    row.m.receiveCount = static_cast<int>(sel->i64(6)) + 1;
    rows.push_back(std::move(row));
  }
  for (auto& row : rows) {
    if (opts_.redrive && row.m.receiveCount > opts_.redrive->maxReceiveCount) {
      auto attrs = row.m.attributes;
      attrs["reason"] = attrs.count("reason") ? attrs["reason"] : "max_receive_count_exceeded";
      attrs["sourceQueue"] = name_;
      attrs["receiveCount"] = std::to_string(row.m.receiveCount - 1);
      move->reset();
      move->bind(1, opts_.redrive->deadLetterQueue).bind(2, attributesJson(attrs)).bind(3, row.id);
      MF_RETURN_IF_ERROR(move->run());
      // In the dead-letter queue it is a new message: visible, never received.
      unreceive->reset();
      unreceive->bind(1, row.id);
      MF_RETURN_IF_ERROR(unreceive->run());
      movedToDlq = true;
      continue;
    }
    row.m.receiptHandle = std::to_string(row.id) + "." + crypto::hex(crypto::randomBytes(8));
    mark->reset();
    mark->bind(1, row.id)
        .bind(2, name_)
        .bind(3, row.m.groupId)
        .bind(4, now + visibilityMs)
        .bind(5, static_cast<int64_t>(row.m.receiveCount))
        .bind(6, row.m.receiptHandle);
    MF_RETURN_IF_ERROR(mark->run());
    out.push_back(std::move(row.m));
  }
  MF_RETURN_IF_ERROR(tx.commit());
  if (movedToDlq) st.changedLocked(opts_.redrive->deadLetterQueue);
  return out;
}

Result<std::vector<ReceivedMessage>> SqliteQueue::receive(size_t max, int64_t visibilityMs,
                                                          int64_t waitMs) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(waitMs);
  std::unique_lock lock(store_->mu_);
  for (;;) {
    uint64_t seen = store_->changes_[name_];
    auto r = receiveOnce(max, visibilityMs);
    if (!r.isOk() || !r->empty()) return r;
    auto now = std::chrono::steady_clock::now();
    if (now >= deadline) return std::vector<ReceivedMessage>{};
    // Long polling, like SQS's WaitTimeSeconds: until this process changes the queue, or the
    // next re-read (other processes, visibility timeouts).
    auto recheck = now + std::chrono::milliseconds(SqliteQueueStore::kRecheckMs);
    store_->changed_.wait_until(lock, std::min(deadline, recheck),
                                [&] { return store_->changes_[name_] != seen; });
  }
}

namespace {
// The message id a receipt handle ("<id>.<random>") names; -1 for anything else (then it
// matches no message, like an outdated handle).
int64_t idOfReceipt(const std::string& receipt) {
  size_t dot = receipt.find('.');
  if (dot == 0 || dot == std::string::npos || dot > 18) return -1;
  int64_t id = 0;
  for (size_t i = 0; i < dot; ++i) {
    if (receipt[i] < '0' || receipt[i] > '9') return -1;
    id = id * 10 + (receipt[i] - '0');
  }
  return id;
}
}  // namespace

Status SqliteQueue::remove(const std::vector<std::string>& receiptHandles) {
  std::lock_guard lock(store_->mu_);
  SqliteDb& db = *store_->db_;
  // The receipt is checked against the receive state; only then does the message go.
  MF_PREPARE(unreceive, db, "DELETE FROM received WHERE id = ? AND receipt = ? AND queue = ?");
  MF_PREPARE(del, db, "DELETE FROM queued WHERE id = ?");
  Transaction tx(db);
  MF_RETURN_IF_ERROR(tx.begin());
  for (const auto& r : receiptHandles) {
    int64_t id = idOfReceipt(r);
    unreceive->reset();
    unreceive->bind(1, id).bind(2, r).bind(3, name_);
    MF_RETURN_IF_ERROR(unreceive->run());
    if (db.changes() == 0) continue;  // outdated or unknown receipt: the message stays
    del->reset();
    del->bind(1, id);
    MF_RETURN_IF_ERROR(del->run());
  }
  MF_RETURN_IF_ERROR(tx.commit());
  store_->changedLocked(name_);  // the next message of a group may be deliverable now
  return Status::ok();
}

Status SqliteQueue::changeVisibility(const std::string& receiptHandle, int64_t visibilityMs) {
  std::lock_guard lock(store_->mu_);
  SqliteDb& db = *store_->db_;
  MF_PREPARE(up, db,
             "UPDATE received SET visible_at = ? WHERE id = ? AND receipt = ? AND queue = ?");
  up->bind(1, store_->clock_.nowMs() + visibilityMs)
      .bind(2, idOfReceipt(receiptHandle))
      .bind(3, receiptHandle)
      .bind(4, name_);
  MF_RETURN_IF_ERROR(up->run());
  if (db.changes() == 0) return Status::notFound("receipt handle is stale or the message is gone");
  store_->changedLocked(name_);
  return Status::ok();
}

Result<QueueStats> SqliteQueue::stats() {
  std::lock_guard lock(store_->mu_);
  SqliteDb& db = *store_->db_;
  // Reads the index on (queue, id) and the small `received` table, never a body. The oldest
  // message is the first by id (ids follow the order of sends).
  MF_PREPARE(sel, db,
             "SELECT (SELECT count(*) FROM queued WHERE queue = ?1),"
             " (SELECT count(*) FROM received WHERE queue = ?1 AND visible_at > ?2),"
             " coalesce((SELECT sent_at FROM queued WHERE queue = ?1 ORDER BY id LIMIT 1), 0)");
  sel->bind(1, name_).bind(2, store_->clock_.nowMs());
  auto r = sel->step();
  if (!r.isOk()) return r.status();
  QueueStats s{sel->i64(0) - sel->i64(1), sel->i64(1), sel->i64(2)};
  sel->reset();
  return s;
}

Result<std::vector<ReceivedMessage>> SqliteQueue::peek(size_t max) {
  std::lock_guard lock(store_->mu_);
  SqliteDb& db = *store_->db_;
  MF_PREPARE(sel, db,
             "SELECT m.id, m.group_id, m.dedup_id, m.body, m.attrs, m.sent_at,"
             " coalesce(r.receive_count, 0) FROM queued m LEFT JOIN received r ON r.id = m.id"
             " WHERE m.queue = ? ORDER BY m.id LIMIT ?");
  sel->bind(1, name_).bind(2, static_cast<int64_t>(max));
  std::vector<ReceivedMessage> out;
  for (;;) {
    auto r = sel->step();
    if (!r.isOk()) return r.status();
    if (!*r) break;
    ReceivedMessage m;
    m.messageId = std::to_string(sel->i64(0));
    m.groupId = sel->str(1);
    m.dedupId = sel->str(2);
    m.body = sel->str(3);
    m.attributes = attributesFrom(sel->str(4));
    m.sentAtMs = sel->i64(5);
    m.receiveCount = static_cast<int>(sel->i64(6));
    out.push_back(std::move(m));
  }
  return out;
}

}  // namespace memberflow::embedded
