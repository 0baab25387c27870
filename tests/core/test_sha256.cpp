#include "unipet/core/sha256.h"

#include <gtest/gtest.h>

#include "test_util.h"
#include "unipet/core/error.h"

namespace unipet {
namespace {

TEST(Sha256, MatchesTheFips180Examples) {
  // FIPS 180-4 / NIST CSVS examples: one block, two blocks, and a million 'a's (many updates).
  EXPECT_EQ(sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  EXPECT_EQ(sha256_hex(std::string(1000000, 'a')),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST(Sha256, AFileHashesLikeItsBytesAndAMissingOneIsNamed) {
  test::TempDir dir;
  std::string bytes(200000, '\0');
  for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<char>(i * 7919 % 251);
  test::write_bytes(dir / "model.bin", bytes);
  EXPECT_EQ(sha256_file(dir / "model.bin"), sha256_hex(bytes));
  EXPECT_THROW(sha256_file(dir / "missing.bin"), Error);
}

}  // namespace
}  // namespace unipet
