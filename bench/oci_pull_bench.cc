// Pull throughput of one large artifact file from Debian's docker-registry on loopback (pushed
// by ORAS), against `sha256sum` of the same bytes: the pull streams, hashes and writes them,
// so hashing alone is the limit it is measured against. Also times the no-op check a rerun
// makes (one manifest GET). Prints figures; asserts nothing.
//
//   oci_pull_bench [MiB, default 1024]

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>

#include "common/subprocess.h"
#include "oci/artifact_puller.h"
#include "oci/reference.h"
#include "oci/registry_client.h"
#include "tests/integration/oci/test_registry.h"

namespace {

using Clock = std::chrono::steady_clock;

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

}  // namespace

int main(int argc, char** argv) {
  const long mib = argc > 1 ? std::stol(argv[1]) : 1024;
  const std::string dir = "/tmp/gpuop-oci-bench";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir + "/push");
  std::filesystem::create_directories(dir + "/pulled");
  {
    std::ofstream file(dir + "/push/kata-containers-nvidia-gpu.img", std::ios::binary);
    for (long i = 0; i < mib; ++i)
      file << gpuop::testing::RandomBytes(1 << 20, static_cast<unsigned>(i));
  }
  gpuop::testing::TestRegistry registry(dir + "/registry", {});
  std::string error;
  if (!registry.Start(&error)) {
    std::cerr << error;
    return 1;
  }
  auto started = Clock::now();
  const gpuop::common::ProcessResult pushed =
      registry.Push(dir + "/push", "kata/bench", "v1", {"kata-containers-nvidia-gpu.img"});
  if (pushed.exit_code != 0) {
    std::cerr << pushed.err;
    return 1;
  }
  const double push_s = Seconds(Clock::now() - started);

  started = Clock::now();
  absl::StatusOr<gpuop::common::ProcessResult> hashed =
      gpuop::common::RunProcess({"sha256sum", dir + "/push/kata-containers-nvidia-gpu.img"},
                                {.timeout = std::chrono::minutes(10)});
  const double sha_s = Seconds(Clock::now() - started);
  // OpenSSL's SHA-256, the code the pull hashes with: where the CPU has SHA instructions it is
  // several times faster than coreutils' sha256sum, so it shows what is left beside hashing.
  started = Clock::now();
  absl::StatusOr<gpuop::common::ProcessResult> openssl_hashed = gpuop::common::RunProcess(
      {"openssl", "dgst", "-sha256", dir + "/push/kata-containers-nvidia-gpu.img"},
      {.timeout = std::chrono::minutes(10)});
  const double openssl_s = Seconds(Clock::now() - started);
  const bool openssl_ok = openssl_hashed.ok() && openssl_hashed->exit_code == 0;

  absl::StatusOr<gpuop::oci::Reference> ref =
      gpuop::oci::ParseReference(registry.Host() + "/kata/bench:v1");
  gpuop::oci::RegistryClient client(registry.Host(), {.plain_http = true});
  started = Clock::now();
  absl::StatusOr<gpuop::oci::ResolvedArtifact> resolved =
      gpuop::oci::ResolveArtifact(client, *ref, "amd64");
  absl::StatusOr<gpuop::oci::PulledArtifact> pulled =
      resolved.ok() ? gpuop::oci::PullArtifact(client, *ref, *resolved, dir + "/pulled")
                    : absl::StatusOr<gpuop::oci::PulledArtifact>(resolved.status());
  const double pull_s = Seconds(Clock::now() - started);
  if (!pulled.ok()) {
    std::cerr << pulled.status() << "\n";
    return 1;
  }
  constexpr int kChecks = 20;
  started = Clock::now();
  for (int i = 0; i < kChecks; ++i) (void)gpuop::oci::ResolveArtifact(client, *ref, "amd64");
  const double check_ms = Seconds(Clock::now() - started) * 1000 / kChecks;

  std::printf("artifact: %ld MiB, one file (pushed by ORAS in %.2f s)\n", mib, push_s);
  std::printf("sha256sum of the bytes:    %6.2f s  %7.1f MiB/s  (the limit)\n", sha_s,
              static_cast<double>(mib) / sha_s);
  if (openssl_ok) {
    std::printf("openssl dgst -sha256 of the bytes: %6.2f s  %7.1f MiB/s\n", openssl_s,
                static_cast<double>(mib) / openssl_s);
  }
  std::printf(
      "gpuop pull (GET+SHA-256+write+fsync): %6.2f s  %7.1f MiB/s  %.2fx the limit "
      "(goal <= 1.1x)",
      pull_s, static_cast<double>(mib) / pull_s, pull_s / sha_s);
  if (openssl_ok) std::printf(", %.2fx openssl's hash alone", pull_s / openssl_s);
  std::printf("\n");
  std::printf("no-op check (manifest GET, digest compare): %.2f ms\n", check_ms);
  std::filesystem::remove_all(dir);
  return hashed.ok() && hashed->exit_code == 0 ? 0 : 1;
}
