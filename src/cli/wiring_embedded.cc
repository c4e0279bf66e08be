// The embedded adapter family: SQLite databases and files under storage.data_dir.
#include <fcntl.h>
#include <unistd.h>

#include <filesystem>
#include <thread>

#include "adapters/embedded/dir_object_store.h"
#include "adapters/embedded/embedded_event_bus.h"
#include "adapters/embedded/env_secrets.h"
#include "adapters/embedded/sqlite_audit_log.h"
#include "adapters/embedded/sqlite_delivery_log.h"
#include "adapters/embedded/sqlite_lake_journal.h"
#include "adapters/embedded/sqlite_ledger.h"
#include "adapters/embedded/sqlite_member_store.h"
#include "adapters/embedded/sqlite_parking_store.h"
#include "cli/wiring_families.h"
#include "common/crypto.h"

namespace memberflow::cli::wiring::embedded_family {
namespace emb = memberflow::embedded;

Result<std::unique_ptr<ObjectStore>> objects(const Config& cfg) {
  auto dir = std::make_unique<emb::DirObjectStore>(cfg.path("objects"));
  MF_RETURN_IF_ERROR(dir->ensureWritable());
  return std::unique_ptr<ObjectStore>(std::move(dir));
}

Status log(Families& f, const Config& cfg) {
  if (f.log) return Status::ok();
  auto s = emb::SourceLog::open(cfg.path("source.db"), cfg.topic, cfg.partitions, cfg.consumerGroup,
                                f.db);
  if (!s.isOk()) return s.status();
  f.log = std::move(s).value();
  return Status::ok();
}

Result<std::unique_ptr<Ledger>> ledger(Families& f, const Config& cfg) {
  auto l = emb::SqliteLedger::open(cfg.path("ledger.db"), cfg.ledgerTtlHours * 3600 * 1000, f.db);
  if (!l.isOk()) return l.status();
  return std::unique_ptr<Ledger>(std::move(l).value());
}

Status queueStore(Families& f, const Config& cfg, Clock& clock) {
  if (f.queues) return Status::ok();
  auto q = emb::SqliteQueueStore::open(cfg.path("queues.db"), clock, f.db);
  if (!q.isOk()) return q.status();
  f.queues = *q;
  return Status::ok();
}

Result<std::unique_ptr<Queue>> queue(Families& f, const std::string& name, const std::string& dlq,
                                     int maxReceives) {
  emb::QueueOptions o;
  if (!dlq.empty()) o.redrive = emb::RedrivePolicy{dlq, maxReceives};
  return f.queues->queue(name, o);
}

std::unique_ptr<Topic> topic(Families& f, const std::string& name,
                             const std::vector<std::string>& subscriptions) {
  return std::make_unique<emb::SqliteTopic>(f.queues, name, subscriptions);
}

Result<std::unique_ptr<MemberStore>> members(Families& f, const Config& cfg) {
  emb::SqliteMemberStore::Options o;
  o.db = f.db;
  auto m = emb::SqliteMemberStore::open(cfg.path("members.db"), o);
  if (!m.isOk()) return m.status();
  return std::unique_ptr<MemberStore>(std::move(m).value());
}

Result<std::unique_ptr<EventBus>> bus(Families& f, const std::string& name,
                                      const RoutingConfig& routing) {
  auto b = emb::EmbeddedEventBus::create(name, routing, f.queues);
  if (!b.isOk()) return b.status();
  return std::unique_ptr<EventBus>(std::move(b).value());
}

Result<std::unique_ptr<LakeJournal>> lakeJournal(Families& f, const Config& cfg) {
  auto j = emb::SqliteLakeJournal::open(cfg.path("lake.db"), f.db);
  if (!j.isOk()) return j.status();
  return std::unique_ptr<LakeJournal>(std::move(j).value());
}

Result<std::unique_ptr<ParkingStore>> parking(Families& f, const Config& cfg) {
  auto p = emb::SqliteParkingStore::open(cfg.path("parking.db"), f.db);
  if (!p.isOk()) return p.status();
  return std::unique_ptr<ParkingStore>(std::move(p).value());
}

Result<std::unique_ptr<DeliveryLog>> deliveryLog(Families& f, const Config& cfg) {
  auto d = emb::SqliteDeliveryLog::open(cfg.path("deliveries.db"), f.db);
  if (!d.isOk()) return d.status();
  return std::unique_ptr<DeliveryLog>(std::move(d).value());
}

Result<std::unique_ptr<AuditLog>> auditLog(Families& f, const Config& cfg) {
  auto a = emb::SqliteAuditLog::open(cfg.path("audit.db"), f.db);
  if (!a.isOk()) return a.status();
  return std::unique_ptr<AuditLog>(std::move(a).value());
}

std::unique_ptr<Secrets> secrets(const Config& cfg) {
  return std::make_unique<emb::EnvSecrets>(cfg.path("secrets"));
}

Result<std::string> createdClientSecret(Secrets& secrets, const Config& cfg,
                                        const std::string& name) {
  std::error_code ec;
  std::filesystem::create_directories(cfg.path("secrets"), ec);
  std::string path = cfg.path("secrets/" + name);
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd >= 0) {
    std::string secret = crypto::base64UrlEncode(crypto::randomBytes(32));
    bool ok = ::write(fd, secret.data(), secret.size()) == static_cast<ssize_t>(secret.size()) &&
              ::fsync(fd) == 0;
    ::close(fd);
    if (!ok) return Status::unavailable("cannot write the client secret " + name);
  }
  // Created here or by another process an instant ago (then read until it is complete).
  for (int i = 0; i < 50; ++i) {
    auto again = secrets.get(name);
    if (again.isOk() && again->size() == 43) return again;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));  // another process is writing it
  }
  return secrets.get(name);
}

}  // namespace memberflow::cli::wiring::embedded_family

namespace memberflow::cli {

Result<int64_t> scrubEmbeddedDatabases(const Config& cfg) {
  std::error_code ec;
  std::vector<std::string> dbs;
  if (!std::filesystem::exists(cfg.dataDir, ec)) return int64_t{0};  // nothing kept locally
  for (const auto& e : std::filesystem::directory_iterator(cfg.dataDir, ec)) {
    if (e.is_regular_file() && e.path().extension() == ".db") dbs.push_back(e.path().string());
  }
  if (ec) return Status::unavailable("list " + cfg.dataDir + ": " + ec.message());
  for (const auto& path : dbs) MF_RETURN_IF_ERROR(memberflow::embedded::scrubDatabase(path));
  return static_cast<int64_t>(dbs.size());
}

}  // namespace memberflow::cli
