// The configuration loader on TOML text (parseConfigToml, the file part of loadConfig) and on
// the environment, and checkConfig.
#include "cli/config.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>

namespace memberflow {
namespace {

TEST(Config, TheExampleConfigsLoadAndPass) {
  for (const char* f :
       {"/config/memberflow.example.toml", "/config/memberflow.kafka.example.toml"}) {
    std::ifstream in(std::string(MEMBERFLOW_SOURCE_DIR) + f);
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    ASSERT_FALSE(text.empty()) << f;
    auto c = parseConfigToml(text, f);
    ASSERT_TRUE(c.isOk()) << c.status().message();
    EXPECT_TRUE(checkConfig(*c).empty()) << f;
  }
}

TEST(Config, UnknownKeysAndWrongTypesAreRefused) {
  EXPECT_EQ(parseConfigToml("[api]\nport = \"8080\"\n", "t").status().message(),
            "config: api.port has the wrong type");
  EXPECT_EQ(parseConfigToml("[api]\nprot = 1\n", "t").status().message(),
            "config: unknown key api.prot");
  EXPECT_EQ(parseConfigToml("api = 1\n", "t").status().message(), "config: [api] is not a table");
  EXPECT_EQ(parseConfigToml("[api\n", "t").status().code(), Code::kInvalidArgument);
  EXPECT_EQ(parseConfigToml("[api]\nport = 9090\n", "t")->apiPort, 9090);
}

TEST(Config, AValueBeyondTheSettingsTypeIsRefusedNotWrapped) {  // 2^32 + 1 partitions loaded as 1
  EXPECT_EQ(parseConfigToml("[source]\npartitions = 4294967297\n", "t").status().message(),
            "config: source.partitions is out of range");
  EXPECT_EQ(parseConfigToml("[source]\npartitions = -4294967295\n", "t").status().code(),
            Code::kInvalidArgument);
  EXPECT_EQ(parseConfigToml("[source]\npartitions = 12\n", "t")->partitions, 12);

  setenv("MEMBERFLOW_SOURCE_PARTITIONS", "4294967297", 1);
  auto c = loadConfig(std::nullopt);
  unsetenv("MEMBERFLOW_SOURCE_PARTITIONS");
  EXPECT_EQ(c.status().message(), "MEMBERFLOW_SOURCE_PARTITIONS is not a valid value");
}

TEST(Config, BusDeliveryConcurrencyIsLoadedAndMustBe1To256) {
  auto c = parseConfigToml("[bus]\ndelivery_concurrency = 32\n", "t");
  ASSERT_TRUE(c.isOk()) << c.status().message();
  EXPECT_EQ(c->busDeliveryConcurrency, 32);
  EXPECT_TRUE(checkConfig(*c).empty());
  for (int64_t bad : {0, 257}) {
    c->busDeliveryConcurrency = bad;
    auto problems = checkConfig(*c);
    EXPECT_NE(
        std::find(problems.begin(), problems.end(), "bus.delivery_concurrency must be 1..256"),
        problems.end())
        << bad;
  }
}

}  // namespace
}  // namespace memberflow
