// The result file writer (bench/output_file.hpp): replaced atomically or
// not at all, never through a planted link, special files written in place.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "output_file.hpp"

namespace gilbench {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

class OutputFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/gilbench-out-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string path(const std::string& name) const { return dir_ + "/" + name; }
  static std::string read(const std::string& p) {
    std::ifstream f(p);
    std::stringstream s;
    s << f.rdbuf();
    return s.str();
  }
  static void put(const std::string& p, const std::string& text) { std::ofstream(p) << text; }
  // Names in the directory other than `keep`.
  int others(std::initializer_list<std::string> keep) const {
    int n = 0;
    for (const auto& e : fs::directory_iterator(dir_))
      if (std::find(keep.begin(), keep.end(), e.path().filename().string()) == keep.end()) ++n;
    return n;
  }

  std::string dir_;
};

TEST_F(OutputFileTest, ReplacesARegularFileAndLeavesNoTempFile) {
  put(path("r.json"), "old");
  ::chmod(path("r.json").c_str(), 0640);
  OutputFile out;
  ASSERT_EQ(out.check(path("r.json")), "");
  EXPECT_EQ(read(path("r.json")), "old");  // checking writes nothing
  ASSERT_EQ(out.write("new"), "");
  EXPECT_EQ(read(path("r.json")), "new");
  EXPECT_EQ(others({"r.json"}), 0);
  struct stat st {};
  ASSERT_EQ(::stat(path("r.json").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0640u);  // the file keeps its mode
}

TEST_F(OutputFileTest, ANewFileGetsTheUmasksModeAndItsDirectoryIsCreated) {
  const mode_t old = ::umask(027);
  OutputFile out;
  ASSERT_EQ(out.check(path("sub/dir/r.json")), "");
  ASSERT_EQ(out.write("x"), "");
  ::umask(old);
  struct stat st {};
  ASSERT_EQ(::stat(path("sub/dir/r.json").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0640u);
}

TEST_F(OutputFileTest, ALinkIsFollowedAndStaysALink) {
  put(path("target.json"), "old");
  fs::create_symlink("target.json", path("link.json"));
  OutputFile out;
  ASSERT_EQ(out.check(path("link.json")), "");
  ASSERT_EQ(out.write("new"), "");
  EXPECT_TRUE(fs::is_symlink(path("link.json")));
  EXPECT_EQ(read(path("target.json")), "new");
  EXPECT_EQ(others({"target.json", "link.json"}), 0);
}

TEST_F(OutputFileTest, ALinkPlantedAtATempNameIsNeverFollowed) {
  put(path("victim"), "precious");
  // Every name the old writer would have used, and more.
  for (int d = -5; d <= 5; ++d)
    fs::create_symlink(path("victim"), path(".r.json.tmp." + std::to_string(::getpid() + d)));
  OutputFile out;
  ASSERT_EQ(out.check(path("r.json")), "");
  ASSERT_EQ(out.write("results"), "");
  EXPECT_EQ(read(path("victim")), "precious");
  EXPECT_FALSE(fs::is_symlink(path("r.json")));
  EXPECT_EQ(read(path("r.json")), "results");
}

TEST_F(OutputFileTest, AnotherUsersLinkInAStickyDirectoryIsNotFollowed) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to create another user's link";
  ::chmod(dir_.c_str(), 01777);
  put(path("victim"), "precious");
  fs::create_symlink(path("victim"), path("r.json"));
  ASSERT_EQ(::lchown(path("r.json").c_str(), 65534, 65534), 0);
  OutputFile out;
  EXPECT_THAT(out.check(path("r.json")), HasSubstr("link of another user"));
  EXPECT_EQ(read(path("victim")), "precious");
}

TEST_F(OutputFileTest, ACharacterDeviceIsWrittenInPlace) {
  OutputFile out;
  ASSERT_EQ(out.check("/dev/null"), "");
  ASSERT_EQ(out.write("x"), "");
  struct stat st {};
  ASSERT_EQ(::stat("/dev/null", &st), 0);
  EXPECT_TRUE(S_ISCHR(st.st_mode));
}

TEST_F(OutputFileTest, AFailedWriteIsReportedAndLeavesNothing) {
  OutputFile full;
  ASSERT_EQ(full.check("/dev/full"), "");
  EXPECT_THAT(full.write("x"), HasSubstr("No space left on device"));
  struct stat st {};
  ASSERT_EQ(::stat("/dev/full", &st), 0);
  EXPECT_TRUE(S_ISCHR(st.st_mode));
}

TEST_F(OutputFileTest, BadTargetsAreRefusedBeforeAnythingRuns) {
  OutputFile out;
  EXPECT_THAT(out.check(dir_), HasSubstr("is a directory"));
  EXPECT_THAT(out.check(path(std::string(250, 'a') + ".json")), HasSubstr("too long"));
  put(path("plain"), "");
  EXPECT_THAT(out.check(path("plain/r.json")), HasSubstr("ot a directory"));
  EXPECT_EQ(others({"plain"}), 0);
  if (::geteuid() != 0) {  // root may write anywhere
    fs::create_directory(path("ro"));
    ::chmod(path("ro").c_str(), 0555);
    EXPECT_THAT(out.check(path("ro/r.json")), HasSubstr("Permission denied"));
  }
}

TEST_F(OutputFileTest, DescriptorPathsAreWrittenToTheDescriptor) {
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  OutputFile out;
  ASSERT_EQ(out.check("/dev/fd/" + std::to_string(fds[1])), "");
  ASSERT_EQ(out.write("abc"), "");
  char buf[8] = {};
  EXPECT_EQ(::read(fds[0], buf, sizeof buf), 3);
  EXPECT_STREQ(buf, "abc");
  ::close(fds[0]);
  ::close(fds[1]);
}

}  // namespace
}  // namespace gilbench
