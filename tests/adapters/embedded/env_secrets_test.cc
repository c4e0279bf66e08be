// What the embedded secrets add to the Secrets contract: the environment first, safe names.
#include "adapters/embedded/env_secrets.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>

#include "support/test_support.h"

namespace memberflow {
namespace {

#define EXPECT_CODE(expr, c) EXPECT_EQ((expr).code(), ::memberflow::Code::c)

using testing::ManualClock;
using testing::TempDir;
namespace emb = memberflow::embedded;

TEST(EmbeddedSecretsEnv, EnvironmentWinsOverFilesAndNamesCannotEscape) {
  TempDir dir;
  emb::EnvSecrets s(dir.path());
  std::ofstream(dir.file("api-key")) << "from-file";
  setenv("MEMBERFLOW_SECRET_API_KEY", "from-env", 1);
  EXPECT_EQ(*s.get("api-key"), "from-env");
  unsetenv("MEMBERFLOW_SECRET_API_KEY");
  EXPECT_EQ(*s.get("api-key"), "from-file");
  EXPECT_CODE(s.get("../etc/passwd").status(), kInvalidArgument);
}

}  // namespace
}  // namespace memberflow
