// What the OCI client reads from outside: references in the kata manager's config, pull
// secrets, WWW-Authenticate challenges and manifests. tests/integration/oci pulls from a real
// registry.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "oci/auth_challenge.h"
#include "oci/credentials.h"
#include "oci/manifest.h"
#include "oci/reference.h"
#include "oci/sha256.h"

namespace gpuop::oci {
namespace {

using ::testing::HasSubstr;

const std::string kDigest = "sha256:" + std::string(64, 'a');

TEST(ParseReference, SplitsRegistryRepositoryTagAndDigest) {
  struct Row {
    std::string text, registry, repository, tag, digest;
  };
  for (const Row& row : std::vector<Row>{
           {"nvcr.io/nvidia/cloud-native/kata-gpu-artifacts:ubuntu22.04-535.54.03", "nvcr.io",
            "nvidia/cloud-native/kata-gpu-artifacts", "ubuntu22.04-535.54.03", ""},
           {"localhost:5000/kata@" + kDigest, "localhost:5000", "kata", "", kDigest},
           {"127.0.0.1:5000/kata/art:v1@" + kDigest, "127.0.0.1:5000", "kata/art", "v1", kDigest},
           {"registry.example/kata", "registry.example", "kata", "latest", ""},
           {"ubuntu", "registry-1.docker.io", "library/ubuntu", "latest", ""},
           {"someone/kata:1", "registry-1.docker.io", "someone/kata", "1", ""}}) {
    absl::StatusOr<Reference> ref = ParseReference(row.text);
    ASSERT_TRUE(ref.ok()) << row.text << ": " << ref.status();
    EXPECT_EQ(ref->registry, row.registry) << row.text;
    EXPECT_EQ(ref->repository, row.repository) << row.text;
    EXPECT_EQ(ref->tag, row.tag) << row.text;
    EXPECT_EQ(ref->digest, row.digest) << row.text;
  }
  for (const std::string bad : {"nvcr.io/Nvidia/kata:v1", "nvcr.io/kata:", "nvcr.io/kata@sha256:12",
                                "nvcr.io//kata", "nvcr.io/kata:bad/tag", ""}) {
    absl::StatusOr<Reference> ref = ParseReference(bad);
    EXPECT_FALSE(ref.ok()) << bad;
    EXPECT_THAT(std::string(ref.status().message()), HasSubstr("artifact reference")) << bad;
  }
}

TEST(CredentialsFor, ReadsUserAndPasswordOrAuthByRegistryHost) {
  const std::string secret =
      R"({"auths":{"https://nvcr.io/v1/":{"username":"$oauthtoken","password":"key"},)"
      R"("registry.example:5000":{"auth":"dXNlcjpwYTpzcw=="},"docker.io":{"auth":"aHViOmh1Yg=="}}})";
  absl::StatusOr<std::optional<Credentials>> nvcr = CredentialsFor(secret, "nvcr.io");
  ASSERT_TRUE(nvcr.ok() && nvcr->has_value());
  EXPECT_EQ((*nvcr)->username, "$oauthtoken");
  EXPECT_EQ((*nvcr)->password, "key");
  absl::StatusOr<std::optional<Credentials>> local =
      CredentialsFor(secret, "registry.example:5000");
  ASSERT_TRUE(local.ok() && local->has_value());
  EXPECT_EQ((*local)->username, "user");
  EXPECT_EQ((*local)->password, "pa:ss");  // Only the first ':' separates.
  absl::StatusOr<std::optional<Credentials>> hub = CredentialsFor(secret, "registry-1.docker.io");
  ASSERT_TRUE(hub.ok() && hub->has_value());
  EXPECT_EQ((*hub)->username, "hub");
  absl::StatusOr<std::optional<Credentials>> none = CredentialsFor(secret, "quay.io");
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());
  EXPECT_FALSE(CredentialsFor("{}", "nvcr.io").ok());
  EXPECT_FALSE(CredentialsFor(R"({"auths":{"nvcr.io":{"auth":"!!"}}})", "nvcr.io").ok());
  EXPECT_FALSE(CredentialsFor(R"({"auths":{"nvcr.io":{}}})", "nvcr.io").ok());
}

TEST(ParseAuthChallenge, ReadsBearerAndBasicWithQuotedParameters) {
  absl::StatusOr<AuthChallenge> bearer = ParseAuthChallenge(
      R"(Bearer realm="https://auth.example/token",service="registry.example",scope="repository:kata:pull")");
  ASSERT_TRUE(bearer.ok()) << bearer.status();
  EXPECT_EQ(bearer->scheme, "bearer");
  EXPECT_EQ(bearer->params["realm"], "https://auth.example/token");
  EXPECT_EQ(bearer->params["service"], "registry.example");
  EXPECT_EQ(bearer->params["scope"], "repository:kata:pull");
  absl::StatusOr<AuthChallenge> basic = ParseAuthChallenge(R"(Basic realm="a \"quoted\" realm")");
  ASSERT_TRUE(basic.ok());
  EXPECT_EQ(basic->scheme, "basic");
  EXPECT_EQ(basic->params["realm"], "a \"quoted\" realm");
  EXPECT_FALSE(ParseAuthChallenge("").ok());
  EXPECT_FALSE(ParseAuthChallenge(R"(Bearer realm="open)").ok());
  EXPECT_FALSE(ParseAuthChallenge("Bearer realm").ok());
}

TEST(ParseManifest, ReadsLayersWithTitlesAndPicksThePlatformOfAnIndex) {
  const std::string manifest =
      R"({"schemaVersion":2,"mediaType":")" + std::string(kOciManifest) +
      R"(","layers":[{"mediaType":"application/octet-stream","digest":")" + kDigest +
      R"(","size":5,"annotations":{"org.opencontainers.image.title":"vmlinux"}}]})";
  absl::StatusOr<Manifest> parsed = ParseManifest("", manifest);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  ASSERT_EQ(parsed->layers.size(), 1u);
  EXPECT_EQ(*TitleOf(parsed->layers[0]), "vmlinux");
  EXPECT_EQ(parsed->layers[0].size, 5);

  const std::string index = R"({"schemaVersion":2,"manifests":[)"
                            R"({"digest":")" +
                            kDigest +
                            R"(","size":1,"platform":{"os":"linux","architecture":"arm64"}},)"
                            R"({"digest":"sha256:)" +
                            std::string(64, 'b') +
                            R"(","size":1,"platform":{"os":"linux","architecture":"amd64"}}]})";
  absl::StatusOr<Manifest> parsed_index = ParseManifest(kOciIndex, index);
  ASSERT_TRUE(parsed_index.ok()) << parsed_index.status();
  EXPECT_TRUE(parsed_index->is_index);
  EXPECT_EQ(SelectPlatform(*parsed_index, "amd64")->digest, "sha256:" + std::string(64, 'b'));
  EXPECT_THAT(std::string(SelectPlatform(*parsed_index, "ppc64le").status().message()),
              HasSubstr("linux/arm64, linux/amd64"));
}

TEST(ParseManifest, RefusesBadDigestsSizesTypesAndTitlesThatArePaths) {
  EXPECT_FALSE(ParseManifest("", "not json").ok());
  EXPECT_FALSE(ParseManifest("", R"({"layers":[{"digest":"md5:1","size":1}]})").ok());
  EXPECT_FALSE(ParseManifest("", R"({"layers":[{"digest":")" + kDigest + R"(","size":-1}]})").ok());
  EXPECT_FALSE(ParseManifest("application/vnd.docker.distribution.manifest.v1+json", "{}").ok());
  for (const std::string title : {"../etc/passwd", "a/b", "..", ".", ""}) {
    Descriptor layer{.digest = kDigest, .annotations = {{kTitleAnnotation, title}}};
    EXPECT_FALSE(TitleOf(layer).ok()) << title;
  }
}

TEST(Sha256, MatchesTheKnownDigestOfTheEmptyStringAndStreamsAcrossChunks) {
  EXPECT_EQ(Sha256Digest(""),
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  Sha256 hash;
  hash.Update("ab");
  hash.Update("c");
  EXPECT_EQ(hash.Digest(), Sha256Digest("abc"));
}

}  // namespace
}  // namespace gpuop::oci
