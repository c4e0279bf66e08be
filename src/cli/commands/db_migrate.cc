// `memberflow db migrate`: applies the pending PostgreSQL migrations.
#include <iostream>

#include "cli/command_support.h"
#include "cli/commands.h"
#include "cli/wiring.h"
#include "common/json.h"

namespace memberflow::cli {

int dbMigrateCommand(const Config& cfg) {
  applyLogLevel(cfg);
  if (cfg.memberStoreAdapter != MemberStoreAdapter::kPostgres) {
    return fail(
        Status::invalidArgument("adapters.member_store is not postgres: nothing to migrate"));
  }
  Wiring w(cfg);
  auto r = w.migrateMembers();
  if (!r.isOk()) return fail(r.status());
  json::array applied;
  for (int v : r->applied) applied.emplace_back(v);
  std::cout << json::serialize(
                   json::object{{"applied", std::move(applied)}, {"version", r->version}})
            << "\n";
  return 0;
}

}  // namespace memberflow::cli
