#include "oci/sha256.h"

#include <openssl/evp.h>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"

namespace gpuop::oci {

struct Sha256::Context {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  ~Context() { EVP_MD_CTX_free(ctx); }
};

Sha256::Sha256() : context_(std::make_unique<Context>()) {
  EVP_DigestInit_ex(context_->ctx, EVP_sha256(), nullptr);
}

Sha256::~Sha256() = default;

void Sha256::Reset() { EVP_DigestInit_ex(context_->ctx, EVP_sha256(), nullptr); }

void Sha256::Update(std::string_view bytes) {
  EVP_DigestUpdate(context_->ctx, bytes.data(), bytes.size());
}

std::string Sha256::Digest() {
  unsigned char hash[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_DigestFinal_ex(context_->ctx, hash, &length);
  return absl::StrCat("sha256:",
                      absl::BytesToHexString(std::string(reinterpret_cast<char*>(hash), length)));
}

std::string Sha256Digest(std::string_view bytes) {
  Sha256 hash;
  hash.Update(bytes);
  return hash.Digest();
}

}  // namespace gpuop::oci
