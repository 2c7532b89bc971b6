#include "tests/integration/oci/test_registry.h"

#include <crypt.h>

#include <chrono>
#include <filesystem>
#include <iostream>
#include <random>
#include <sstream>

#include "tests/fixtures/http_get.h"
#include "tests/fixtures/node_files.h"
#include "tests/fixtures/wait_for.h"

namespace gpuop::testing {
std::string RandomBytes(size_t size, unsigned seed) {
  std::mt19937_64 engine(seed);
  std::string bytes(size, '\0');
  for (size_t i = 0; i < size; i += 8) {
    const uint64_t value = engine();
    for (size_t b = 0; b < 8 && i + b < size; ++b)
      bytes[i + b] = static_cast<char>(value >> (8 * b));
  }
  return bytes;
}

// Not WriteFile: the benchmarks use this registry too, without gtest. A file that cannot be
// written shows when the registry does not start; this says which one.
void WriteOrSay(const std::string& path, const std::string& text) {
  if (absl::Status written = WriteText(path, text); !written.ok()) {
    std::cerr << "test registry: " << written << "\n";
  }
}

TestRegistry::TestRegistry(std::string dir, TestRegistryOptions options)
    : dir_(std::move(dir)), options_(std::move(options)) {
  std::filesystem::remove_all(dir_);
  std::filesystem::create_directories(dir_);
  port_ = FreeLoopbackPort();
  storage_ = dir_ + "/storage";
  config_ = dir_ + "/config.yml";
  std::ostringstream config;
  config << "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: "
         << storage_ << "\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:" << port_
         << "\n";
  if (options_.tls) {
    const std::string key = dir_ + "/tls.key", cert = dir_ + "/tls.crt";
    // A self-signed certificate for 127.0.0.1 is its own CA: what a client must be told to trust.
    (void)common::RunProcess({"openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout",
                              key, "-out", cert, "-days", "2", "-subj", "/CN=gpuop-test-registry",
                              "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"});
    ca_pem_ = testing::ReadWhole(cert);
    config << "  tls:\n    certificate: " << cert << "\n    key: " << key << "\n";
  }
  if (options_.bearer) {
    const std::string key = dir_ + "/token.key", cert = dir_ + "/token.crt";
    (void)common::RunProcess({"openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout",
                              key, "-out", cert, "-days", "2", "-subj", "/CN=gpuop-test-token"});
    token_server_ = std::make_unique<BackgroundProcess>(
        std::vector<std::string>{TOKEN_SERVER, "-cert", cert, "-key", key, "-user",
                                 options_.username, "-password", options_.password},
        dir_ + "/token-server.log");
    int token_port = 0;
    WaitFor(
        [&] {
          const std::string log = testing::ReadWhole(dir_ + "/token-server.log");
          if (log.starts_with("listening ")) token_port = std::stoi(log.substr(10));
          return token_port != 0;
        },
        std::chrono::seconds(10), std::chrono::milliseconds(50));
    config << "auth:\n  token:\n    realm: http://127.0.0.1:" << token_port
           << "/token\n    service: gpuop-test-registry\n    issuer: gpuop-test-issuer\n"
           << "    rootcertbundle: " << cert << "\n";
  } else if (!options_.username.empty()) {
    const std::string htpasswd = dir_ + "/htpasswd";
    char salt[CRYPT_GENSALT_OUTPUT_SIZE];
    crypt_gensalt_rn("$2b$", 5, nullptr, 0, salt, sizeof salt);
    struct crypt_data data {};
    const char* hash = crypt_r(options_.password.c_str(), salt, &data);
    WriteOrSay(htpasswd, options_.username + ":" + (hash != nullptr ? hash : "") + "\n");
    config << "auth:\n  htpasswd:\n    realm: gpuop-test\n    path: " << htpasswd << "\n";
  }
  WriteOrSay(config_, config.str());
}

TestRegistry::~TestRegistry() {
  Kill();
  if (token_server_) {
    token_server_->Signal(SIGKILL);
    token_server_->Wait();
  }
}

bool TestRegistry::Start(std::string* error) {
  process_ = std::make_unique<BackgroundProcess>(
      std::vector<std::string>{"/usr/bin/docker-registry", "serve", config_},
      dir_ + "/registry.log");
  // Any HTTP answer on /v2/ (200, or 401 behind auth; TLS refuses a plain request with 400).
  if (WaitFor([&] { return HttpGet(port_, "/v2/").starts_with("HTTP/1."); },
              std::chrono::seconds(10), std::chrono::milliseconds(50))) {
    return true;
  }
  *error = testing::ReadWhole(dir_ + "/registry.log");
  return false;
}

void TestRegistry::Kill() {
  if (process_ == nullptr) return;
  process_->Signal(SIGKILL);
  process_->Wait();
  process_.reset();
}

std::string TestRegistry::BlobPath(const std::string& digest) const {
  const std::string hex = digest.substr(7);
  return storage_ + "/docker/registry/v2/blobs/sha256/" + hex.substr(0, 2) + "/" + hex + "/data";
}

common::ProcessResult TestRegistry::Push(const std::string& dir, const std::string& repository,
                                         const std::string& tag,
                                         const std::vector<std::string>& files) const {
  std::vector<std::string> argv = {"/bin/sh", "-c", ""};
  std::string command = "cd '" + dir + "' && exec '" ORAS_BINARY "' push";
  if (options_.tls) {
    command += " --ca-file '" + dir_ + "/tls.crt'";
  } else {
    command += " --plain-http";
  }
  if (!options_.username.empty()) {
    command += " --username '" + options_.username + "' --password '" + options_.password + "'";
  }
  command += " " + Host() + "/" + repository + ":" + tag;
  for (const std::string& file : files) command += " '" + file + "'";
  argv[2] = command;
  absl::StatusOr<common::ProcessResult> run =
      common::RunProcess(argv, {.timeout = std::chrono::minutes(2)});
  return run.ok() ? *run : common::ProcessResult{.err = std::string(run.status().message())};
}

}  // namespace gpuop::testing
