// What the directory object store adds to the ObjectStore contract: keys stay under the root,
// and putAll's objects fail one by one, leaving no temporary file behind.
#include "adapters/embedded/dir_object_store.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>

#include "support/test_support.h"

namespace memberflow {
namespace {

#define EXPECT_CODE(expr, c) EXPECT_EQ((expr).code(), ::memberflow::Code::c)

using testing::ManualClock;
using testing::TempDir;
namespace emb = memberflow::embedded;

// The names of the files under root, sorted (temporary files included).
std::vector<std::string> fileNamesUnder(const std::string& root) {
  std::vector<std::string> files;
  for (const auto& e : std::filesystem::recursive_directory_iterator(root))
    if (e.is_regular_file()) files.push_back(e.path().filename().string());
  std::sort(files.begin(), files.end());
  return files;
}

TEST(EmbeddedObjectStore, RefusesKeysThatLeaveTheRoot) {
  TempDir dir;
  emb::DirObjectStore s(dir.path() + "/root");
  EXPECT_CODE(s.put("../escape", "x", {}), kInvalidArgument);
  EXPECT_CODE(s.put("/abs", "x", {}), kInvalidArgument);
  EXPECT_CODE(s.get("a/../../b").status(), kInvalidArgument);
}

// One bad key fails only its own object; the others are stored, and no temporary file is left.
TEST(EmbeddedObjectStore, PutAllFailsOnlyTheBadObjectAndLeavesNoTemporaryFile) {
  TempDir dir;
  emb::DirObjectStore s(dir.path() + "/root");
  auto got = s.putAll({{"raw/p=0/a", "one"}, {"../escape", "x"}, {"raw/p=1/b", "two"}}, {});
  ASSERT_EQ(got.size(), 3u);
  EXPECT_TRUE(got[0].isOk());
  EXPECT_CODE(got[1], kInvalidArgument);
  EXPECT_TRUE(got[2].isOk());
  EXPECT_EQ(*s.get("raw/p=0/a"), "one");
  EXPECT_EQ(*s.get("raw/p=1/b"), "two");
  EXPECT_FALSE(std::filesystem::exists(dir.path() + "/escape"));
  std::vector<std::string> files = fileNamesUnder(dir.path() + "/root");
  EXPECT_EQ(files, (std::vector<std::string>{"a", "b"}));
}

// A rename that fails (the key names a directory) fails its object only, and its temporary
// file goes.
TEST(EmbeddedObjectStore, PutAllRemovesTheTemporaryFileOfAFailedRename) {
  TempDir dir;
  emb::DirObjectStore s(dir.path() + "/root");
  ASSERT_TRUE(s.put("taken/inside", "x", {}).isOk());  // "taken" is a non-empty directory
  auto got = s.putAll({{"taken", "y"}, {"free", "z"}}, {});
  ASSERT_EQ(got.size(), 2u);
  EXPECT_CODE(got[0], kUnavailable);
  EXPECT_NE(got[0].message().find("rename"), std::string::npos) << got[0].toString();
  EXPECT_TRUE(got[1].isOk());
  EXPECT_EQ(*s.get("free"), "z");
  std::vector<std::string> files = fileNamesUnder(dir.path() + "/root");
  EXPECT_EQ(files, (std::vector<std::string>{"free", "inside"}));
}

// More objects than the store keeps open at once: all of them are stored.
TEST(EmbeddedObjectStore, PutAllStoresMoreObjectsThanItKeepsOpen) {
  TempDir dir;
  emb::DirObjectStore s(dir.path() + "/root");
  std::vector<ObjectPut> objects;
  for (int i = 0; i < 150; ++i)
    objects.push_back(
        {"raw/p=" + std::to_string(i % 7) + "/" + std::to_string(i), std::to_string(i)});
  auto got = s.putAll(objects, {});
  ASSERT_EQ(got.size(), objects.size());
  for (size_t i = 0; i < got.size(); ++i) EXPECT_TRUE(got[i].isOk()) << i << got[i].toString();
  EXPECT_EQ(s.list("raw/")->size(), 150u);
  EXPECT_EQ(*s.get("raw/p=3/80"), "80");
}

// A directory that cannot be written fails its objects with the reason, not the others'.
TEST(EmbeddedObjectStore, PutAllReportsAnUnwritableDirectoryPerObject) {
  TempDir dir;
  emb::DirObjectStore s(dir.path() + "/root");
  ASSERT_TRUE(s.put("ok/seed", "x", {}).isOk());
  // A file where a directory must go: the object under it cannot be created.
  ASSERT_TRUE(s.put("blocked", "file", {}).isOk());
  auto got = s.putAll({{"blocked/under", "y"}, {"ok/next", "z"}}, {});
  ASSERT_EQ(got.size(), 2u);
  EXPECT_CODE(got[0], kUnavailable);
  EXPECT_TRUE(got[1].isOk());
  EXPECT_EQ(*s.get("ok/next"), "z");
  EXPECT_EQ(*s.get("blocked"), "file");
}

}  // namespace
}  // namespace memberflow
