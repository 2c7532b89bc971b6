// The OCI client against Debian's docker-registry, with artifacts pushed by the ORAS CLI (an
// independent, real client): plain HTTP, TLS with a test CA, htpasswd auth through a pull
// secret, a blob corrupted in the registry's storage, and the registry killed in mid-pull.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <sstream>
#include <thread>

#include "absl/strings/escaping.h"

#include "oci/artifact_puller.h"
#include "oci/credentials.h"
#include "oci/reference.h"
#include "oci/registry_client.h"
#include "oci/sha256.h"
#include "tests/fixtures/node_files.h"
#include "tests/fixtures/test_files.h"
#include "tests/fixtures/wait_for.h"
#include "tests/integration/oci/test_registry.h"

namespace gpuop::oci {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

class ArtifactPullTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::ScratchDir("oci");
    std::filesystem::create_directories(dir_ + "/push");
    std::filesystem::create_directories(dir_ + "/pulled");
    // What a Kata GPU artifact holds: a guest kernel, an initrd and the Kata configuration.
    files_ = {{"vmlinux-nvidia-gpu.container", testing::RandomBytes(3 << 20, 1)},
              {"kata-containers-initrd-nvidia-gpu.img", testing::RandomBytes(1 << 20, 2)},
              {"configuration-nvidia-gpu-qemu.toml", "[hypervisor.qemu]\nkernel = \"x\"\n"}};
    for (const auto& [name, bytes] : files_) testing::WriteFile(dir_ + "/push/" + name, bytes);
  }

  std::vector<std::string> Names() const {
    std::vector<std::string> names;
    for (const auto& [name, bytes] : files_) names.push_back(name);
    return names;
  }

  void StartAndPush(testing::TestRegistryOptions options) {
    registry_ = std::make_unique<testing::TestRegistry>(dir_ + "/registry", options);
    std::string error;
    ASSERT_TRUE(registry_->Start(&error)) << error;
    const common::ProcessResult pushed =
        registry_->Push(dir_ + "/push", "kata/gpu-artifacts", "v1", Names());
    ASSERT_EQ(pushed.exit_code, 0) << pushed.out << pushed.err;
  }

  Reference Ref() const {
    absl::StatusOr<Reference> ref = ParseReference(registry_->Host() + "/kata/gpu-artifacts:v1");
    EXPECT_TRUE(ref.ok()) << ref.status();
    return *ref;
  }

  absl::StatusOr<PulledArtifact> Pull(RegistryClient& client) {
    absl::StatusOr<ResolvedArtifact> resolved = ResolveArtifact(client, Ref(), "amd64");
    if (!resolved.ok()) return resolved.status();
    return PullArtifact(client, Ref(), *resolved, dir_ + "/pulled");
  }

  void ExpectPulledByteForByte() {
    for (const auto& [name, bytes] : files_) {
      EXPECT_TRUE(testing::ReadWhole(dir_ + "/pulled/" + name) == bytes) << name << " differs";
    }
  }

  std::string dir_;
  std::vector<std::pair<std::string, std::string>> files_;
  std::unique_ptr<testing::TestRegistry> registry_;
};

TEST_F(ArtifactPullTest, PullsWhatOrasPushedByteForByteFromAPlainRegistry) {
  StartAndPush({});
  RegistryClient client(registry_->Host(), {.plain_http = true});
  absl::StatusOr<PulledArtifact> pulled = Pull(client);
  ASSERT_TRUE(pulled.ok()) << pulled.status();
  ExpectPulledByteForByte();
  ASSERT_EQ(pulled->files.size(), 3u);
  EXPECT_EQ(pulled->files[0].name, "vmlinux-nvidia-gpu.container");
  EXPECT_EQ(pulled->files[0].digest, Sha256Digest(files_[0].second));
  EXPECT_EQ(pulled->files[0].size, 3 << 20);
  EXPECT_TRUE(IsSha256Digest(pulled->digest));

  // The digest a tag resolves to is what the registry serves for it, and pulling by that digest
  // gives the same artifact.
  absl::StatusOr<ResolvedArtifact> again = ResolveArtifact(client, Ref(), "amd64");
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->digest, pulled->digest);
  Reference pinned = Ref();
  pinned.tag.clear();
  pinned.digest = pulled->digest;
  absl::StatusOr<ResolvedArtifact> by_digest = ResolveArtifact(client, pinned, "amd64");
  ASSERT_TRUE(by_digest.ok()) << by_digest.status();
  EXPECT_EQ(by_digest->layers.size(), 3u);
  EXPECT_EQ(client.Retries(), 0);

  Reference missing = Ref();
  missing.tag = "v2";
  EXPECT_TRUE(absl::IsNotFound(ResolveArtifact(client, missing, "amd64").status()));
}

TEST_F(ArtifactPullTest, TlsNeedsTheCaAndWorksWithIt) {
  StartAndPush({.tls = true});
  RegistryClient untrusting(registry_->Host(), {.attempts = 1});
  const absl::Status refused = ResolveArtifact(untrusting, Ref(), "amd64").status();
  EXPECT_FALSE(refused.ok());
  std::cout << "without the CA: " << refused << "\n";
  RegistryClient client(registry_->Host(), {.ca_pem = registry_->CaPem()});
  absl::StatusOr<PulledArtifact> pulled = Pull(client);
  ASSERT_TRUE(pulled.ok()) << pulled.status();
  ExpectPulledByteForByte();
}

TEST_F(ArtifactPullTest, HtpasswdAuthTakesThePullSecretsCredentials) {
  StartAndPush({.username = "kata", .password = "s3cret-pass"});
  RegistryClient anonymous(registry_->Host(), {.plain_http = true});
  const absl::Status refused = ResolveArtifact(anonymous, Ref(), "amd64").status();
  EXPECT_TRUE(absl::IsUnauthenticated(refused)) << refused;
  EXPECT_THAT(std::string(refused.message()), HasSubstr("name a pull secret"));

  // A kubernetes.io/dockerconfigjson secret's .dockerconfigjson, in the `auth` form.
  const std::string secret = R"({"auths":{")" + registry_->Host() + R"(":{"auth":")" +
                             absl::Base64Escape("kata:s3cret-pass") + R"("}}})";
  absl::StatusOr<std::optional<Credentials>> credentials =
      CredentialsFor(secret, registry_->Host());
  ASSERT_TRUE(credentials.ok() && credentials->has_value()) << credentials.status();
  RegistryClient client(registry_->Host(), {.plain_http = true, .credentials = **credentials});
  absl::StatusOr<PulledArtifact> pulled = Pull(client);
  ASSERT_TRUE(pulled.ok()) << pulled.status();
  ExpectPulledByteForByte();

  RegistryClient wrong(registry_->Host(),
                       {.plain_http = true, .credentials = Credentials{"kata", "wrong"}});
  EXPECT_TRUE(absl::IsUnauthenticated(ResolveArtifact(wrong, Ref(), "amd64").status()));
}

TEST_F(ArtifactPullTest, BearerTokenAuthGetsATokenFromTheRealmForThePullScope) {
  StartAndPush({.username = "kata", .password = "t0ken-pass", .bearer = true});
  RegistryClient anonymous(registry_->Host(), {.plain_http = true});
  const absl::Status refused = ResolveArtifact(anonymous, Ref(), "amd64").status();
  EXPECT_FALSE(refused.ok());
  EXPECT_THAT(std::string(refused.message()), HasSubstr("token for kata/gpu-artifacts"));
  RegistryClient client(registry_->Host(),
                        {.plain_http = true, .credentials = Credentials{"kata", "t0ken-pass"}});
  absl::StatusOr<PulledArtifact> pulled = Pull(client);
  ASSERT_TRUE(pulled.ok()) << pulled.status();
  ExpectPulledByteForByte();
}

TEST_F(ArtifactPullTest, ABlobCorruptedInTheRegistryIsRefusedAndNotLeftBehind) {
  StartAndPush({});
  RegistryClient client(registry_->Host(), {.plain_http = true});
  absl::StatusOr<ResolvedArtifact> resolved = ResolveArtifact(client, Ref(), "amd64");
  ASSERT_TRUE(resolved.ok()) << resolved.status();
  // One byte flipped in the registry's own copy of the kernel; the size stays right.
  const std::string blob = registry_->BlobPath(resolved->layers[0].digest);
  std::string bytes = testing::ReadWhole(blob);
  ASSERT_EQ(bytes.size(), 3u << 20);
  bytes[12345] ^= 0x01;
  testing::WriteFile(blob, bytes);
  absl::StatusOr<PulledArtifact> pulled = PullArtifact(client, Ref(), *resolved, dir_ + "/pulled");
  ASSERT_FALSE(pulled.ok());
  EXPECT_TRUE(absl::IsDataLoss(pulled.status())) << pulled.status();
  EXPECT_THAT(std::string(pulled.status().message()), HasSubstr("the content's digest is"));
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/pulled/vmlinux-nvidia-gpu.container"));
  const auto temp_files = [](const std::string& dir) {
    std::vector<std::string> found;
    for (const auto& entry : std::filesystem::directory_iterator(dir)) {
      if (entry.path().filename().string().find(".partial") != std::string::npos) {
        found.push_back(entry.path().filename().string());
      }
    }
    return found;
  };
  if (std::filesystem::exists(dir_ + "/pulled")) {
    EXPECT_THAT(temp_files(dir_ + "/pulled"), ::testing::IsEmpty());
  }

  // A good copy already at the path stays as it was when a download of it fails.
  RegistryClient direct(registry_->Host(), {.plain_http = true});
  const std::string kept = dir_ + "/kept";
  testing::WriteFile(kept, "the earlier, good bytes");
  const absl::Status failed = direct.DownloadBlob(Ref().repository, resolved->layers[0], kept);
  EXPECT_TRUE(absl::IsDataLoss(failed)) << failed;
  EXPECT_EQ(testing::ReadWhole(kept), "the earlier, good bytes");
  EXPECT_THAT(temp_files(dir_), ::testing::IsEmpty());
}

TEST_F(ArtifactPullTest, ARegistryKilledMidPullIsRetriedUntilThePullCompletes) {
  files_ = {{"kata-containers-nvidia-gpu.img", testing::RandomBytes(64 << 20, 3)}};
  testing::WriteFile(dir_ + "/push/" + files_[0].first, files_[0].second);
  StartAndPush({});
  RegistryClient client(registry_->Host(),
                        {.plain_http = true, .first_backoff = std::chrono::milliseconds(300)});
  absl::StatusOr<ResolvedArtifact> resolved = ResolveArtifact(client, Ref(), "amd64");
  ASSERT_TRUE(resolved.ok()) << resolved.status();
  std::atomic<bool> killed = false;
  std::thread restarter;
  absl::StatusOr<PulledArtifact> pulled = PullArtifact(
      client, Ref(), *resolved, dir_ + "/pulled", [&](const PulledFile&, int64_t written) {
        if (written > (1 << 20) && !killed.exchange(true)) {
          const int64_t retries_before = client.Retries();
          registry_->Kill();
          restarter = std::thread([&client, this, retries_before] {
            // Back once the client has met the registry down and is retrying.
            EXPECT_TRUE(testing::WaitFor([&] { return client.Retries() > retries_before; }));
            std::string error;
            EXPECT_TRUE(registry_->Start(&error)) << error;
          });
        }
      });
  if (restarter.joinable()) restarter.join();
  ASSERT_TRUE(killed);
  ASSERT_TRUE(pulled.ok()) << pulled.status();
  EXPECT_GE(client.Retries(), 1);
  std::cout << "retries after the registry was killed mid-pull: " << client.Retries() << "\n";
  ExpectPulledByteForByte();
}

}  // namespace
}  // namespace gpuop::oci
