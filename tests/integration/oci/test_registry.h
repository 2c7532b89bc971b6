#pragma once

// Debian's docker-registry (distribution 2.8) on loopback for a test, plain or with TLS from a
// CA made for the test, optionally behind htpasswd auth; and the ORAS CLI (tools/peers) to push
// artifacts into it, as a user would. Stopped when the object goes.

#include <memory>
#include <string>
#include <vector>

#include "common/subprocess.h"
#include "tests/integration/background_process.h"

namespace gpuop::testing {

struct TestRegistryOptions {
  bool tls = false;
  std::string username;  // Non-empty: htpasswd auth with this user (or the token server's).
  std::string password;
  // The registry's token auth instead of htpasswd, with tools/peers/token-server as the realm:
  // the Bearer flow of the distribution spec.
  bool bearer = false;
};

class TestRegistry {
 public:
  TestRegistry(std::string dir, TestRegistryOptions options);
  ~TestRegistry();

  // Starts (again, on the same port and storage); false with the log in `error` if it does not
  // answer within 10 s.
  bool Start(std::string* error);
  void Kill();

  std::string Host() const { return "127.0.0.1:" + std::to_string(port_); }
  const std::string& CaPem() const { return ca_pem_; }
  const std::string& StorageDir() const { return storage_; }
  // The file the registry keeps a blob's bytes in.
  std::string BlobPath(const std::string& digest) const;

  // `oras push` of the files in `dir` (names as given, which become the titles) to
  // <host>/<repository>:<tag>; the ORAS output, or the failure in `error`.
  common::ProcessResult Push(const std::string& dir, const std::string& repository,
                             const std::string& tag, const std::vector<std::string>& files) const;

 private:
  const std::string dir_;
  const TestRegistryOptions options_;
  int port_ = 0;
  std::string storage_;
  std::string config_;
  std::string ca_pem_;
  std::unique_ptr<BackgroundProcess> process_;
  std::unique_ptr<BackgroundProcess> token_server_;
};

// `size` bytes that do not compress, the same for the same seed.
std::string RandomBytes(size_t size, unsigned seed);

}  // namespace gpuop::testing
