#include "unipet/core/sha256.h"

#include <openssl/evp.h>

#include <fstream>
#include <memory>
#include <vector>

#include "unipet/core/error.h"

namespace unipet {

namespace {

// OpenSSL's digest, streamed: a model file is hashed in blocks, never read whole.
class Sha256 {
 public:
  Sha256() : context_(EVP_MD_CTX_new(), EVP_MD_CTX_free) {
    UNIPET_CHECK(context_ && EVP_DigestInit_ex(context_.get(), EVP_sha256(), nullptr) == 1,
                 "sha256: OpenSSL could not start a digest");
  }
  void update(const char* data, size_t size) {
    UNIPET_CHECK(EVP_DigestUpdate(context_.get(), data, size) == 1, "sha256: OpenSSL could not hash a block");
  }
  std::string hex() {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int size = 0;
    UNIPET_CHECK(EVP_DigestFinal_ex(context_.get(), digest, &size) == 1, "sha256: OpenSSL could not finish");
    static const char* digits = "0123456789abcdef";
    std::string out;
    for (unsigned int i = 0; i < size; ++i) {
      out += digits[digest[i] >> 4];
      out += digits[digest[i] & 15];
    }
    return out;
  }

 private:
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> context_;
};

}  // namespace

std::string sha256_hex(const std::string& bytes) {
  Sha256 h;
  h.update(bytes.data(), bytes.size());
  return h.hex();
}

std::string sha256_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  UNIPET_CHECK(in, path << ": cannot open it to hash it");
  Sha256 h;
  std::vector<char> block(1 << 20);
  while (in) {
    in.read(block.data(), static_cast<std::streamsize>(block.size()));
    if (in.gcount() > 0) h.update(block.data(), static_cast<size_t>(in.gcount()));
  }
  UNIPET_CHECK(in.eof(), path << ": read error while hashing it");
  return h.hex();
}

}  // namespace unipet
