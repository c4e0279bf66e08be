// A schema of its own on the PostgreSQL server the tests use (MEMBERFLOW_TEST_POSTGRES), for a
// benchmark: created and migrated when made, dropped with everything in it when destroyed.
// error() says why it could not be made (the benchmark skips then); uri() connects into it.
#pragma once

#include <cstdlib>
#include <memory>
#include <random>
#include <string>

#include "adapters/postgres/migrations.h"
#include "adapters/postgres/pg.h"

namespace memberflow {

class PgBenchSchema {
 public:
  explicit PgBenchSchema(const std::string& prefix) {
    namespace pg = memberflow::postgres;
    const char* server = std::getenv("MEMBERFLOW_TEST_POSTGRES");
    if (!server || !*server) {
      error_ = "MEMBERFLOW_TEST_POSTGRES is not set";
      return;
    }
    name_ = prefix + std::to_string(std::random_device{}() % 1000000000);
    std::string s(server);
    uri_ = s + (s.find('?') == std::string::npos ? "?" : "&") + "options=-csearch_path%3D" + name_;
    auto admin = pg::PgConn::connect(s, "");
    if (!admin.isOk() || !(*admin)->run("CREATE SCHEMA " + name_).isOk()) {
      error_ = "cannot create the schema";
      return;
    }
    admin_ = std::move(admin).value();
    auto c = pg::PgConn::connect(uri_, "");
    if (!c.isOk() || !pg::migrate(**c).isOk()) error_ = "cannot migrate";
  }
  ~PgBenchSchema() {
    if (admin_) (void)admin_->run("DROP SCHEMA " + name_ + " CASCADE");
  }
  PgBenchSchema(const PgBenchSchema&) = delete;
  PgBenchSchema& operator=(const PgBenchSchema&) = delete;

  const std::string& error() const { return error_; }
  const std::string& uri() const { return uri_; }

 private:
  std::string name_, uri_, error_;
  std::unique_ptr<postgres::PgConn> admin_;
};

}  // namespace memberflow
