#include "base/file_system.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>

namespace anec {
namespace {

void ExpectExclusive(FileSystem* fs, const std::string& path) {
  auto first = fs->TryLock(path);
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  auto second = fs->TryLock(path);
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(second.status().message().find(path), std::string::npos);
  first->reset();  // released: the next one gets it
  auto third = fs->TryLock(path);
  EXPECT_TRUE(third.ok()) << third.status().ToString();
}

TEST(FileSystemTest, TryLockIsExclusiveUntilReleasedInMemory) {
  MemoryFileSystem fs;
  ASSERT_TRUE(fs.MakeDirs("/out/.anec-work").ok());
  ExpectExclusive(&fs, "/out/.anec-work/lock");
  EXPECT_TRUE(fs.Exists("/out/.anec-work/lock"));
}

TEST(FileSystemTest, TryLockIsExclusiveUntilReleasedOnDisk) {
  char dir[] = "/tmp/anec_lock_XXXXXX";
  ASSERT_NE(mkdtemp(dir), nullptr);
  const std::string path = JoinPath(dir, "lock");
  ExpectExclusive(RealFileSystem(), path);
  EXPECT_TRUE(RealFileSystem()->RemoveAll(dir).ok());
}

TEST(FileSystemTest, TryLockInAMissingFolderSaysWhere) {
  auto lock = RealFileSystem()->TryLock("/nonexistent-anec-dir/lock");
  ASSERT_FALSE(lock.ok());
  EXPECT_NE(lock.status().message().find("/nonexistent-anec-dir/lock"), std::string::npos);
}

}  // namespace
}  // namespace anec
