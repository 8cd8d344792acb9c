#include "io/hub_sha256.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>

namespace anec::io {
namespace {

// FIPS 180-2 test vectors.
TEST(HubSha256Test, KnownVectors) {
  EXPECT_EQ(Sha256Hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(Sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(Sha256Hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

TEST(HubSha256Test, FileDigestMatchesInMemoryDigestAcrossChunks) {
  // Larger than the 4 MiB read buffer, so several chunks are hashed.
  std::string data(5 * 1024 * 1024 + 17, '\0');
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>((i * 131) ^ (i >> 9));
  std::string path = testing::TempDir() + "/sha256_" + std::to_string(getpid());
  std::ofstream(path, std::ios::binary) << data;
  auto digest = Sha256FileHex(path);
  ASSERT_TRUE(digest.ok()) << digest.status().ToString();
  EXPECT_EQ(*digest, Sha256Hex(data));
  std::remove(path.c_str());
  EXPECT_EQ(Sha256FileHex(path).status().code(), StatusCode::kIoError);
}

}  // namespace
}  // namespace anec::io
