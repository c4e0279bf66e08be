// Micro-benchmarks of the stores on the pipeline's hot path: one member write (member row,
// history, outbox and idempotency key in one transaction), a queue send and receive+delete
// cycle, and a ledger claim+complete, per item and in batches (the embedded stores); a batch of
// member writes on PostgreSQL (with MEMBERFLOW_TEST_POSTGRES, as for the tests).
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <filesystem>
#include <random>

#include "adapters/embedded/sqlite_ledger.h"
#include "adapters/embedded/sqlite_member_store.h"
#include "adapters/embedded/sqlite_queue.h"
#include "adapters/postgres/pg_member_store.h"
#include "pg_bench_schema.h"

namespace memberflow {
namespace {

namespace emb = memberflow::embedded;

std::string tempPath(const char* name) {
  auto dir = std::filesystem::temp_directory_path() /
             ("memberflow-bench-" + std::to_string(std::random_device{}()));
  std::filesystem::create_directories(dir);
  return (dir / name).string();
}

Member member(const std::string& id, int64_t n) {
  Member m;
  m.memberId = id;
  m.name = {"Ada", std::nullopt, "Lovelace" + std::to_string(n), std::nullopt};
  m.birthDate = "1990-01-31";
  m.gender = Gender::kFemale;
  m.contact.email = id + "@example.org";
  m.address.city = "Des Moines";
  m.status = MemberStatus::kActive;
  return m;
}

// `batch` sourced writes to members M<n % members>, n counting on from `n`.
std::vector<StoreWrite> batchOfWrites(size_t batch, int64_t members, int64_t& n) {
  std::vector<StoreWrite> writes(batch);
  for (auto& w : writes) {
    ++n;
    w.memberId = "M" + std::to_string(n % members);
    Member m = member(w.memberId, n);
    w.content = [m](const StoredMember*) -> Result<Member> { return m; };
    w.sourceSequence = n;
    w.idempotencyKey = "core:" + std::to_string(n);
    w.requestFingerprint = "fp";
    w.lineage = json::object{{"topic", "t"}, {"partition", 1}, {"offset", n}};
    w.nowMs = n;
  }
  return writes;
}

std::vector<const StoreWrite*> pointersTo(const std::vector<StoreWrite>& writes) {
  std::vector<const StoreWrite*> out;
  for (const auto& w : writes) out.push_back(&w);
  return out;
}

void BM_MemberStoreApply(benchmark::State& state) {
  auto store = *emb::SqliteMemberStore::open(tempPath("m.db"), {});
  int64_t n = 0;
  for (auto _ : state) {
    ++n;
    std::string id = "M" + std::to_string(n % 20000);
    Member m = member(id, n);
    StoreWrite w;
    w.memberId = id;
    w.content = [&m](const StoredMember*) -> Result<Member> { return m; };
    w.sourceSequence = n;
    w.idempotencyKey = "core:" + std::to_string(n);
    w.requestFingerprint = "fp";
    w.lineage = json::object{{"topic", "t"}, {"partition", 1}, {"offset", n}};
    w.nowMs = n;
    auto r = store->apply(w);
    if (!r.isOk()) state.SkipWithError(r.status().toString().c_str());
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_MemberStoreApply)->UseRealTime();

// A batch of writes to distinct members in one transaction, as a batch write from sync.
void BM_MemberStoreApplyAll(benchmark::State& state) {
  auto store = *emb::SqliteMemberStore::open(tempPath("m.db"), {});
  const auto batch = static_cast<size_t>(state.range(0));
  int64_t n = 0;
  for (auto _ : state) {
    std::vector<StoreWrite> writes = batchOfWrites(batch, 5000, n);
    for (const auto& r : store->applyAll(pointersTo(writes))) {
      if (!r.isOk()) state.SkipWithError(r.status().toString().c_str());
    }
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_MemberStoreApplyAll)->Arg(50)->Arg(200)->UseRealTime()->MinTime(3);

void BM_QueueSendReceiveDelete(benchmark::State& state) {
  SystemClock clock;
  auto store = *emb::SqliteQueueStore::open(tempPath("q.db"), clock);
  auto q = store->queue("changes", {});
  const auto batch = static_cast<size_t>(state.range(0));
  int64_t n = 0;
  std::string body(900, 'x');
  for (auto _ : state) {
    std::vector<OutgoingMessage> out;
    for (size_t i = 0; i < batch; ++i, ++n) {
      out.push_back({"M" + std::to_string(n % 20000), "d" + std::to_string(n), body, {}});
    }
    (void)q->send(out);
    auto in = q->receive(batch, 30000, 0);
    std::vector<std::string> receipts;
    for (const auto& m : *in) receipts.push_back(m.receiptHandle);
    (void)q->remove(receipts);
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_QueueSendReceiveDelete)->Arg(1)->Arg(200)->UseRealTime();

// The same with a backlog that stays (what sync meets when ingest runs ahead of it): the
// backlog is sent first, then each iteration sends, receives and deletes a batch of 200.
void BM_QueueBehindABacklog(benchmark::State& state) {
  SystemClock clock;
  auto store = *emb::SqliteQueueStore::open(tempPath("qb.db"), clock);
  auto q = store->queue("changes", {});
  const auto backlog = static_cast<int64_t>(state.range(0));
  constexpr size_t kBatch = 200;
  int64_t n = 0;
  std::string body(900, 'x');
  auto sendSome = [&](int64_t count) {
    std::vector<OutgoingMessage> out;
    for (int64_t i = 0; i < count; ++i, ++n) {
      out.push_back({"M" + std::to_string(n % 20000), "d" + std::to_string(n), body, {}});
    }
    (void)q->send(out);
  };
  for (int64_t sent = 0; sent < backlog; sent += 1000)
    sendSome(std::min<int64_t>(1000, backlog - sent));
  for (auto _ : state) {
    sendSome(kBatch);
    auto in = q->receive(kBatch, 30000, 0);
    if (!in.isOk()) {
      state.SkipWithError(in.status().toString().c_str());
      return;
    }
    std::vector<std::string> receipts;
    for (const auto& m : *in) receipts.push_back(m.receiptHandle);
    (void)q->remove(receipts);
  }
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(kBatch));
}
BENCHMARK(BM_QueueBehindABacklog)->ArgName("backlog")->Arg(0)->Arg(100000)->UseRealTime();

void BM_LedgerClaimComplete(benchmark::State& state) {
  auto ledger = *emb::SqliteLedger::open(tempPath("l.db"), 3600000);
  const auto batch = static_cast<size_t>(state.range(0));
  int64_t n = 0;
  for (auto _ : state) {
    std::vector<std::string> ids;
    std::vector<LedgerOutcome> outs;
    for (size_t i = 0; i < batch; ++i, ++n) {
      ids.push_back("core:" + std::to_string(n));
      outs.push_back({ids.back(), MessageOutcome::kEnqueued, "", "raw/k", static_cast<int64_t>(i)});
    }
    (void)ledger->claim(ids, 1);
    (void)ledger->complete(outs, 1);
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_LedgerClaimComplete)->Arg(1)->Arg(1000)->UseRealTime();

// A batch of puts of distinct members, as sync sends them (new content, a newer source
// sequence and a key each), on PostgreSQL: in one transaction (the store's applyAll, one_tx:1)
// or one transaction per write (MemberStore's default, one_tx:0). Works in a schema of its own,
// dropped at the end.
void BM_PgMemberStoreBatch(benchmark::State& state) {
  namespace pg = memberflow::postgres;
  PgBenchSchema schema("bench");
  if (!schema.error().empty()) {
    state.SkipWithError(schema.error().c_str());
    return;
  }
  pg::PgMemberStore::Options o;
  o.pool.conninfo = schema.uri();
  pg::PgMemberStore store(o);
  const auto batch = static_cast<size_t>(state.range(0));
  const bool oneTransaction = state.range(1) == 1;
  int64_t n = 0;
  for (auto _ : state) {
    std::vector<StoreWrite> writes = batchOfWrites(batch, 20000, n);
    auto ptrs = pointersTo(writes);
    auto out = oneTransaction ? store.applyAll(ptrs) : store.MemberStore::applyAll(ptrs);
    for (const auto& r : out) {
      if (!r.isOk()) state.SkipWithError(r.status().toString().c_str());
    }
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_PgMemberStoreBatch)
    ->ArgNames({"batch", "one_tx"})
    ->ArgsProduct({{100, 500}, {0, 1}})
    ->UseRealTime();

}  // namespace
}  // namespace memberflow

BENCHMARK_MAIN();
