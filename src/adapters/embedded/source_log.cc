#include "adapters/embedded/source_log.h"

#include <thread>

#include "common/json.h"
#include "common/time.h"

namespace memberflow::embedded {

int32_t kafkaMurmur2(std::string_view data) {
  const uint32_t seed = 0x9747b28c;
  const uint32_t m = 0x5bd1e995;
  const int r = 24;
  const size_t length = data.size();
  uint32_t h = seed ^ static_cast<uint32_t>(length);
  const size_t length4 = length / 4;
  auto byte = [&](size_t i) { return static_cast<uint32_t>(static_cast<unsigned char>(data[i])); };
  for (size_t i = 0; i < length4; i++) {
    size_t i4 = i * 4;
    uint32_t k = byte(i4) | (byte(i4 + 1) << 8) | (byte(i4 + 2) << 16) | (byte(i4 + 3) << 24);
    k *= m;
    k ^= k >> r;
    k *= m;
    h *= m;
    h ^= k;
  }
  switch (length % 4) {
    case 3: h ^= byte((length & ~size_t{3}) + 2) << 16; [[fallthrough]];
    case 2: h ^= byte((length & ~size_t{3}) + 1) << 8; [[fallthrough]];
    case 1: h ^= byte(length & ~size_t{3}); h *= m;
  }
  h ^= h >> 13;
  h *= m;
  h ^= h >> 15;
  return static_cast<int32_t>(h);
}

int32_t defaultPartition(std::string_view key, int32_t partitions) {
  return (kafkaMurmur2(key) & 0x7fffffff) % partitions;
}

Result<std::unique_ptr<SourceLog>> SourceLog::open(const std::string& path, std::string topic,
                                                   int32_t partitions, std::string group,
                                                   const SqliteDb::Options& opts) {
  if (partitions < 1) return Status::invalidArgument("partitions must be at least 1");
  auto db = SqliteDb::open(path, opts);
  if (!db.isOk()) return db.status();
  SqliteDb& d = **db;
  MF_RETURN_IF_ERROR(
      d.exec("CREATE TABLE IF NOT EXISTS meta(k TEXT PRIMARY KEY, v TEXT NOT NULL);"
             "CREATE TABLE IF NOT EXISTS records(part INTEGER NOT NULL, off INTEGER NOT NULL,"
             " ts INTEGER NOT NULL, key BLOB, value BLOB, headers TEXT NOT NULL,"
             " PRIMARY KEY(part, off)) WITHOUT ROWID;"
             "CREATE TABLE IF NOT EXISTS commits(grp TEXT NOT NULL, part INTEGER NOT NULL,"
             " next_off INTEGER NOT NULL, PRIMARY KEY(grp, part)) WITHOUT ROWID;"));
  {
    MF_PREPARE(ins, d, "INSERT OR IGNORE INTO meta(k, v) VALUES('partitions', ?)");
    ins->bind(1, std::to_string(partitions));
    MF_RETURN_IF_ERROR(ins->run());
    MF_PREPARE(sel, d, "SELECT v FROM meta WHERE k = 'partitions'");
    auto row = sel->step();
    if (!row.isOk()) return row.status();
    partitions = std::stoi(sel->str(0));
    sel->reset();
  }
  std::unique_ptr<SourceLog> log(
      new SourceLog(std::move(db).value(), std::move(topic), partitions, std::move(group)));
  MF_RETURN_IF_ERROR(log->rewindToCommitted());
  return log;
}

Status SourceLog::rewindToCommitted() {
  std::lock_guard lock(mu_);
  position_.clear();
  for (int32_t p = 0; p < partitions_; ++p) position_[p] = 0;
  MF_PREPARE(sel, *db_, "SELECT part, next_off FROM commits WHERE grp = ?");
  sel->bind(1, group_);
  for (;;) {
    auto row = sel->step();
    if (!row.isOk()) return row.status();
    if (!*row) break;
    position_[static_cast<int32_t>(sel->i64(0))] = sel->i64(1);
  }
  return Status::ok();
}

Result<std::vector<SourceRecord>> SourceLog::readOnce(size_t maxRecords) {
  std::vector<SourceRecord> out;
  auto sel = db_->prepare(
      "SELECT off, ts, key, value, headers FROM records WHERE part = ? AND off >= ?"
      " ORDER BY off LIMIT ?");
  if (!sel.isOk()) return sel.status();
  // Share the batch among partitions: each gets an even slice, leftovers go round-robin.
  size_t perPartition = std::max<size_t>(1, maxRecords / static_cast<size_t>(partitions_));
  for (int32_t i = 0; i < partitions_ && out.size() < maxRecords; ++i) {
    int32_t p = (nextPartition_ + i) % partitions_;
    Stmt* s = *sel;
    s->reset();
    s->bind(1, static_cast<int64_t>(p))
        .bind(2, position_[p])
        .bind(3, static_cast<int64_t>(std::min(perPartition, maxRecords - out.size())));
    for (;;) {
      auto row = s->step();
      if (!row.isOk()) return row.status();
      if (!*row) break;
      SourceRecord r = recordOfRow(*s, p);
      position_[p] = r.offset + 1;
      out.push_back(std::move(r));
    }
  }
  nextPartition_ = (nextPartition_ + 1) % partitions_;
  return out;
}

SourceRecord SourceLog::recordOfRow(Stmt& s, int32_t partition) const {
  SourceRecord r;
  r.topic = topic_;
  r.partition = partition;
  r.offset = s.i64(0);
  r.timestampMs = s.i64(1);
  r.key = s.optStr(2);
  r.value = s.optStr(3);
  auto hdrs = parseJson(s.str(4));
  if (hdrs.isOk() && hdrs->is_array()) {
    for (const auto& h : hdrs->get_array()) {
      if (h.is_array() && h.get_array().size() == 2 && h.get_array()[0].is_string() &&
          h.get_array()[1].is_string()) {
        r.headers.emplace_back(std::string(h.get_array()[0].get_string()),
                               std::string(h.get_array()[1].get_string()));
      }
    }
  }
  return r;
}

Result<std::map<int32_t, SourceReader::PartitionRange>> SourceLog::ranges() {
  auto end = endOffsets();
  if (!end.isOk()) return end.status();
  auto done = committed();
  if (!done.isOk()) return done.status();
  std::lock_guard lock(mu_);
  // The embedded log keeps every record: an empty partition starts at 0, a filled one at its
  // first offset (0 too, unless records were removed by hand).
  MF_PREPARE(low, *db_, "SELECT min(off) FROM records WHERE part = ?");
  std::map<int32_t, PartitionRange> out;
  for (int32_t p = 0; p < partitions_; ++p) {
    PartitionRange r;
    low->reset();
    low->bind(1, static_cast<int64_t>(p));
    auto row = low->step();
    if (!row.isOk()) return row.status();
    bool filled = *row && !low->isNull(0);
    auto e = end->find(p);
    r.high = e == end->end() ? 0 : e->second;
    r.low = filled ? low->i64(0) : r.high;
    auto c = done->find(p);
    r.committed = c == done->end() ? r.low : c->second;
    out[p] = r;
  }
  low->reset();
  return out;
}

Result<int64_t> SourceLog::offsetForTime(int32_t partition, int64_t tsMs) {
  if (partition < 0 || partition >= partitions_) {
    return Status::invalidArgument("no partition " + std::to_string(partition));
  }
  {
    std::lock_guard lock(mu_);
    // Timestamps given to `produce` need not grow with the offset: the first record at or
    // after the time, as Kafka's ListOffsets answers (a scan of the partition's rows).
    MF_PREPARE(sel, *db_, "SELECT min(off) FROM records WHERE part = ? AND ts >= ?");
    sel->bind(1, static_cast<int64_t>(partition)).bind(2, tsMs);
    auto row = sel->step();
    if (!row.isOk()) return row.status();
    if (*row && !sel->isNull(0)) {
      int64_t off = sel->i64(0);
      sel->reset();
      return off;
    }
    sel->reset();
  }
  auto end = endOffsets();
  if (!end.isOk()) return end.status();
  auto e = end->find(partition);
  return e == end->end() ? int64_t{0} : e->second;
}

Result<std::vector<SourceRecord>> SourceLog::read(int32_t partition, int64_t from, int64_t to,
                                                  size_t max) {
  if (partition < 0 || partition >= partitions_) {
    return Status::invalidArgument("no partition " + std::to_string(partition));
  }
  std::lock_guard lock(mu_);
  MF_PREPARE(sel, *db_,
             "SELECT off, ts, key, value, headers FROM records WHERE part = ? AND off >= ?"
             " AND off < ? ORDER BY off LIMIT ?");
  sel->bind(1, static_cast<int64_t>(partition))
      .bind(2, from)
      .bind(3, to)
      .bind(4, static_cast<int64_t>(max));
  std::vector<SourceRecord> out;
  for (;;) {
    auto row = sel->step();
    if (!row.isOk()) return row.status();
    if (!*row) break;
    out.push_back(recordOfRow(*sel, partition));
  }
  return out;
}

Result<std::vector<SourceRecord>> SourceLog::poll(size_t maxRecords,
                                                  std::chrono::milliseconds wait) {
  auto deadline = std::chrono::steady_clock::now() + wait;
  for (;;) {
    {
      std::lock_guard lock(mu_);
      auto r = readOnce(maxRecords);
      if (!r.isOk() || !r->empty()) return r;
    }
    if (std::chrono::steady_clock::now() >= deadline) return std::vector<SourceRecord>{};
    // The log is polled, like Kafka's fetch with fetch.max.wait: a short pause between reads.
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

Status SourceLog::commit(const std::map<int32_t, int64_t>& nextOffsets) {
  std::lock_guard lock(mu_);
  MF_PREPARE(up, *db_,
             "INSERT INTO commits(grp, part, next_off) VALUES(?, ?, ?)"
             " ON CONFLICT(grp, part) DO UPDATE SET next_off = max(next_off, excluded.next_off)");
  Transaction tx(*db_);
  MF_RETURN_IF_ERROR(tx.begin());
  for (const auto& [p, off] : nextOffsets) {
    up->reset();
    up->bind(1, group_).bind(2, static_cast<int64_t>(p)).bind(3, off);
    MF_RETURN_IF_ERROR(up->run());
  }
  return tx.commit();
}

Result<int64_t> SourceLog::redact(const Replace& replace) {
  std::lock_guard lock(mu_);
  MF_RETURN_IF_ERROR(db_->exec("PRAGMA secure_delete=ON"));
  MF_PREPARE(up, *db_,
             "UPDATE records SET key = ?, value = ?, headers = ? WHERE part = ? AND off = ?");
  int64_t rewritten = 0;
  Transaction tx(*db_);
  MF_RETURN_IF_ERROR(tx.begin());
  for (int32_t p = 0; p < partitions_; ++p) {
    // A page at a time: the statement is finished before its rows are updated.
    constexpr int64_t kPage = 5000;
    for (int64_t from = 0;;) {
      std::vector<SourceRecord> page;
      {
        MF_PREPARE(sel, *db_,
                   "SELECT off, ts, key, value, headers FROM records WHERE part = ? AND off >= ?"
                   " ORDER BY off LIMIT ?");
        sel->bind(1, static_cast<int64_t>(p)).bind(2, from).bind(3, kPage);
        for (;;) {
          auto row = sel->step();
          if (!row.isOk()) return row.status();
          if (!*row) break;
          page.push_back(recordOfRow(*sel, p));
        }
      }
      if (page.empty()) break;
      from = page.back().offset + 1;
      for (const auto& r : page) {
        auto with = replace(r);
        if (!with) continue;
        json::array hdrs;
        for (const auto& [k, v] : with->headers)
          hdrs.push_back(json::array{json::string(k), json::string(v)});
        up->reset();
        if (with->key)
          up->bindBlob(1, *with->key);
        else
          up->bindNull(1);
        if (with->value)
          up->bindBlob(2, *with->value);
        else
          up->bindNull(2);
        up->bind(3, json::serialize(hdrs)).bind(4, static_cast<int64_t>(p)).bind(5, r.offset);
        MF_RETURN_IF_ERROR(up->run());
        ++rewritten;
      }
    }
  }
  MF_RETURN_IF_ERROR(tx.commit());
  return rewritten;
}

Status SourceLog::append(const std::vector<ProduceRecord>& records) {
  std::lock_guard lock(mu_);
  MF_PREPARE(maxOff, *db_, "SELECT coalesce(max(off) + 1, 0) FROM records WHERE part = ?");
  MF_PREPARE(ins, *db_,
             "INSERT INTO records(part, off, ts, key, value, headers) VALUES(?, ?, ?, ?, ?, ?)");
  Transaction tx(*db_);
  MF_RETURN_IF_ERROR(tx.begin());
  std::map<int32_t, int64_t> next;
  int64_t now = wallNowMs();
  for (const auto& r : records) {
    int32_t p = r.partition ? *r.partition : defaultPartition(r.key.value_or(""), partitions_);
    if (p < 0 || p >= partitions_) {
      return Status::invalidArgument("partition " + std::to_string(p) + " out of range");
    }
    auto it = next.find(p);
    if (it == next.end()) {
      maxOff->reset();
      maxOff->bind(1, static_cast<int64_t>(p));
      auto row = maxOff->step();
      if (!row.isOk()) return row.status();
      it = next.emplace(p, maxOff->i64(0)).first;
      maxOff->reset();
    }
    json::array hdrs;
    for (const auto& [k, v] : r.headers)
      hdrs.push_back(json::array{json::string(k), json::string(v)});
    ins->reset();
    ins->bind(1, static_cast<int64_t>(p)).bind(2, it->second).bind(3, r.timestampMs.value_or(now));
    if (r.key)
      ins->bindBlob(4, *r.key);
    else
      ins->bindNull(4);
    if (r.value)
      ins->bindBlob(5, *r.value);
    else
      ins->bindNull(5);
    ins->bind(6, json::serialize(hdrs));
    MF_RETURN_IF_ERROR(ins->run());
    ++it->second;
  }
  return tx.commit();
}

Result<ChangeSource::Progress> SourceLog::progress() {
  auto end = endOffsets();
  if (!end.isOk()) return end.status();
  auto done = committed();
  if (!done.isOk()) return done.status();
  Progress p;
  for (const auto& [part, off] : *end) {
    p.end += off;
    auto it = done->find(part);
    p.committed += it == done->end() ? 0 : std::min(off, it->second);
  }
  return p;
}

Result<std::map<int32_t, int64_t>> SourceLog::committed() {
  std::lock_guard lock(mu_);
  std::map<int32_t, int64_t> out;
  MF_PREPARE(sel, *db_, "SELECT part, next_off FROM commits WHERE grp = ?");
  sel->bind(1, group_);
  for (;;) {
    auto row = sel->step();
    if (!row.isOk()) return row.status();
    if (!*row) break;
    out[static_cast<int32_t>(sel->i64(0))] = sel->i64(1);
  }
  return out;
}

Result<std::map<int32_t, int64_t>> SourceLog::endOffsets() {
  std::lock_guard lock(mu_);
  std::map<int32_t, int64_t> out;
  // One index seek per partition: a GROUP BY over the records would read every record (and
  // its value's overflow pages) on each status probe.
  MF_PREPARE(sel, *db_, "SELECT max(off) + 1 FROM records WHERE part = ?");
  for (int32_t p = 0; p < partitions_; ++p) {
    sel->reset();
    sel->bind(1, static_cast<int64_t>(p));
    auto row = sel->step();
    if (!row.isOk()) return row.status();
    if (*row && !sel->isNull(0)) out[p] = sel->i64(0);
  }
  sel->reset();
  return out;
}

}  // namespace memberflow::embedded
