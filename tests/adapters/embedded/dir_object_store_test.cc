// What the directory object store adds to the ObjectStore contract: keys stay under the root.
#include "adapters/embedded/dir_object_store.h"

#include <gtest/gtest.h>

#include "support/test_support.h"

namespace memberflow {
namespace {

#define EXPECT_CODE(expr, c) EXPECT_EQ((expr).code(), ::memberflow::Code::c)

using testing::ManualClock;
using testing::TempDir;
namespace emb = memberflow::embedded;

TEST(EmbeddedObjectStore, RefusesKeysThatLeaveTheRoot) {
  TempDir dir;
  emb::DirObjectStore s(dir.path() + "/root");
  EXPECT_CODE(s.put("../escape", "x", {}), kInvalidArgument);
  EXPECT_CODE(s.put("/abs", "x", {}), kInvalidArgument);
  EXPECT_CODE(s.get("a/../../b").status(), kInvalidArgument);
}

}  // namespace
}  // namespace memberflow
