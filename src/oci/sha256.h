#pragma once

// SHA-256 over a stream of bytes (OpenSSL), as OCI digests name content: "sha256:<hex>".
//
//   Sha256 hash;  hash.Update(chunk); ...;  std::string digest = hash.Digest();

#include <memory>
#include <string>
#include <string_view>

namespace gpuop::oci {

class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;

  // Starts over, as for a fresh hash.
  void Reset();
  void Update(std::string_view bytes);
  // "sha256:<64 lower-case hex>"; ends the hash.
  std::string Digest();

 private:
  struct Context;
  std::unique_ptr<Context> context_;
};

// The digest of `bytes` in one call.
std::string Sha256Digest(std::string_view bytes);

}  // namespace gpuop::oci
