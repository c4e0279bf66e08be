// The HttpClient contract suite on the libcurl adapter, against servers on loopback port 0
// started by the suite itself: no configuration, so it always runs.
#include "adapters/contracts.h"

#include <gtest/gtest.h>

#include "adapters/http/curl_http_client.h"

namespace memberflow::contracts {
namespace {

struct CurlHarness final : HttpClientHarness {
  http::CurlHttpClient c;
  HttpClient& client() override { return c; }
};
INSTANTIATE_TEST_SUITE_P(Curl, HttpClientContract, ::testing::Values([] {
                           return std::unique_ptr<HttpClientHarness>(new CurlHarness);
                         }),
                         [](const auto&) { return std::string("Curl"); });

// The other ports have no adapter in this family.
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(QueueContract);
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(LedgerContract);
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(ObjectStoreContract);
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(ChangeSourceContract);
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(MemberStoreContract);
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(SecretsContract);
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(TopicContract);
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(EventBusContract);
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(LakeJournalContract);
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(DeliveryLogContract);
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(ParkingStoreContract);

}  // namespace
}  // namespace memberflow::contracts
