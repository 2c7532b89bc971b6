// A registry is a remote party the ClusterPolicy's author names: where its redirects may lead
// (redirect_policy.h), and that no byte of its replies, or of what a redirect reaches, comes
// back in an error text (which the Kata manager publishes in Node Events).

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>

#include "oci/redirect_policy.h"
#include "oci/registry_client.h"
#include "oci/sha256.h"
#include "tests/fixtures/node_files.h"
#include "tests/fixtures/status_matchers.h"
#include "tests/fixtures/test_files.h"
#include "tests/unit/kube/scripted_http_server.h"

namespace gpuop::oci {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using testing::ScriptedHttpServer;
using testing::ScriptedResponse;

constexpr char kSecret[] = "host-secret-3f9d1c";

TEST(NextHop, StaysOnTheRegistrysSchemeAndHostsForManifestsAndTokens) {
  const RedirectScope scope{.registry = "registry.example:5000", .realm_hosts = {"auth.example"}};
  const std::string from = "https://registry.example:5000/v2/r/manifests/v1";
  EXPECT_EQ(*NextHop(from, "/v2/r/manifests/sha256:1", scope, RedirectOf::kManifest),
            "https://registry.example:5000/v2/r/manifests/sha256:1");
  EXPECT_TRUE(NextHop(from, "https://AUTH.example:443/x", scope, RedirectOf::kToken).ok());
  // The scheme is followed as it was checked, in lower case (the fuzzer's finding).
  EXPECT_EQ(*NextHop(from, "HttPS://registry.example:5000/y", scope, RedirectOf::kManifest),
            "https://registry.example:5000/y");
  for (const char* refused :
       {"file:///etc/shadow", "http://registry.example:5000/x", "ftp://registry.example/x",
        "gopher://registry.example/x", "https://elsewhere.example/x", "//elsewhere.example/x",
        "https://user:pass@registry.example:5000/x", "relative/path", ""}) {
    const absl::StatusOr<std::string> next = NextHop(from, refused, scope, RedirectOf::kManifest);
    EXPECT_FALSE(next.ok()) << refused;
    EXPECT_THAT(next.status().message(), Not(HasSubstr("shadow"))) << refused;
  }
}

TEST(NextHop, BlobsMayGoToStorageOnOtherHttpsHostsButNotToInternalAddresses) {
  const RedirectScope scope{.registry = "registry-1.docker.io"};
  const std::string from = "https://registry-1.docker.io/v2/r/blobs/sha256:1";
  EXPECT_TRUE(NextHop(from, "https://production.cloudflare.docker.com/blobs/1?verify=sig", scope,
                      RedirectOf::kBlob)
                  .ok());
  for (const char* internal :
       {"https://169.254.169.254/latest/meta-data", "https://127.0.0.1:10250/pods",
        "https://10.0.0.1/x", "https://172.20.0.4/x", "https://192.168.1.1/x",
        "https://[::1]:8443/x", "https://[fe80::1]/x", "https://[fd00::1]/x",
        "https://[::ffff:127.0.0.1]/x", "https://2130706433/x", "https://0x7f.1/x",
        "https://localhost/x", "https://metadata.localhost./x", "http://169.254.169.254/x"}) {
    const absl::StatusOr<std::string> next = NextHop(from, internal, scope, RedirectOf::kBlob);
    EXPECT_FALSE(next.ok()) << internal;
    EXPECT_THAT(next.status().message(), Not(HasSubstr("meta-data"))) << internal;
  }
}

TEST(NextHop, APlainHttpRegistryMayRedirectOnlyToItself) {
  const RedirectScope scope{.registry = "127.0.0.1:5000", .plain_http = true};
  const std::string from = "http://127.0.0.1:5000/v2/r/blobs/sha256:1";
  EXPECT_TRUE(NextHop(from, "http://127.0.0.1:5000/storage/1", scope, RedirectOf::kBlob).ok());
  EXPECT_FALSE(NextHop(from, "http://127.0.0.1:5001/other", scope, RedirectOf::kBlob).ok());
  EXPECT_FALSE(NextHop(from, "http://storage.example/1", scope, RedirectOf::kBlob).ok());
}

class RegistryRepliesTest : public ::testing::Test {
 protected:
  RegistryClient Client() {
    return RegistryClient(registry_.Url().substr(7),  // "127.0.0.1:port"
                          {.plain_http = true, .attempts = 1});
  }
  ScriptedHttpServer registry_;
};

TEST_F(RegistryRepliesTest, ARedirectToAFileIsNotFollowedAndNothingOfItIsQuoted) {
  const std::string secret_file = testing::ScratchDir("registry-redirect") + "/secret";
  ASSERT_THAT(testing::WriteText(secret_file, kSecret), testing::IsOk());
  registry_.Script({{.status = 302, .headers = {{"Location", "file://" + secret_file}}}});
  RegistryClient client = Client();
  const absl::Status status = client.GetManifest("kata/artifacts", "v1").status();
  EXPECT_TRUE(absl::IsPermissionDenied(status)) << status;
  EXPECT_THAT(status.message(), Not(HasSubstr(kSecret)));
}

TEST_F(RegistryRepliesTest, ARedirectToAnotherInternalServiceIsNotFollowed) {
  ScriptedHttpServer internal;
  internal.Script({{.status = 500, .body = kSecret}});
  registry_.Script({{.status = 307, .headers = {{"Location", internal.Url() + "/admin"}}}});
  RegistryClient client = Client();
  const absl::Status manifest = client.GetManifest("kata/artifacts", "v1").status();
  EXPECT_FALSE(manifest.ok());
  EXPECT_THAT(manifest.message(), Not(HasSubstr(kSecret)));
  EXPECT_TRUE(internal.Requests().empty()) << "the internal service was asked";

  registry_.Script({{.status = 307, .headers = {{"Location", internal.Url() + "/admin"}}}});
  const std::string blob_path = testing::ScratchDir("registry-redirect") + "/blob";
  const Descriptor blob{.digest = Sha256Digest("x"), .size = 1};
  const absl::Status download = client.DownloadBlob("kata/artifacts", blob, blob_path);
  EXPECT_TRUE(absl::IsPermissionDenied(download)) << download;
  EXPECT_TRUE(internal.Requests().empty()) << "the internal service was asked";
  EXPECT_FALSE(std::filesystem::exists(blob_path));
}

TEST_F(RegistryRepliesTest, ErrorsCarryTheSpecsErrorCodeButNeverTheBody) {
  registry_.Script(
      {{.status = 404,
        .body = absl::StrCat(R"({"errors":[{"code":"MANIFEST_UNKNOWN","message":")", kSecret,
                             R"("}]})")},
       {.status = 403, .body = kSecret},
       {.status = 401, .headers = {{"WWW-Authenticate", absl::StrCat("Bearer foo=", kSecret)}}}});
  RegistryClient client = Client();
  const absl::Status unknown = client.GetManifest("kata/artifacts", "v1").status();
  EXPECT_TRUE(absl::IsNotFound(unknown)) << unknown;
  EXPECT_THAT(unknown.message(), HasSubstr("MANIFEST_UNKNOWN"));
  EXPECT_THAT(unknown.message(), Not(HasSubstr(kSecret)));
  const absl::Status denied = client.GetManifest("kata/artifacts", "v1").status();
  EXPECT_TRUE(absl::IsPermissionDenied(denied)) << denied;
  EXPECT_THAT(denied.message(), Not(HasSubstr(kSecret)));
  const absl::Status challenge = client.GetManifest("kata/artifacts", "v1").status();
  EXPECT_FALSE(challenge.ok());
  EXPECT_THAT(challenge.message(), Not(HasSubstr(kSecret)));
}

TEST_F(RegistryRepliesTest, ATokenRealmOnAnotherSchemeIsNotAsked) {
  registry_.Script(
      {{.status = 401,
        .headers = {{"WWW-Authenticate", R"(Bearer realm="file:///etc/shadow",service="x")"}}}});
  RegistryClient client = Client();
  const absl::Status status = client.GetManifest("kata/artifacts", "v1").status();
  EXPECT_FALSE(status.ok());
  EXPECT_THAT(status.message(), HasSubstr("realm"));
  EXPECT_THAT(status.message(), Not(HasSubstr("shadow")));
}

TEST_F(RegistryRepliesTest, RedirectsWithinTheRegistryAreFollowedAndCounted) {
  const std::string bytes = "blob bytes";
  const Descriptor blob{.digest = Sha256Digest(bytes), .size = static_cast<int64_t>(bytes.size())};
  std::vector<ScriptedResponse> hops;
  for (int i = 0; i < kMaxRedirects; ++i) {
    hops.push_back({.status = 307, .headers = {{"Location", absl::StrCat("/storage/", i)}}});
  }
  hops.push_back({.status = 200, .body = bytes});
  registry_.Script(hops);
  RegistryClient client = Client();
  const std::string path = testing::ScratchDir("registry-redirect") + "/followed";
  ASSERT_TRUE(client.DownloadBlob("kata/artifacts", blob, path).ok());
  EXPECT_EQ(testing::ReadWhole(path), bytes);

  std::vector<ScriptedResponse> too_many(kMaxRedirects + 1,
                                         {.status = 307, .headers = {{"Location", "/again"}}});
  registry_.Script(too_many);
  const absl::Status status = client.DownloadBlob("kata/artifacts", blob, path + "-2");
  EXPECT_FALSE(status.ok());
  EXPECT_THAT(status.message(), HasSubstr("redirects"));
}

}  // namespace
}  // namespace gpuop::oci
