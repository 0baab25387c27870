#pragma once
// Helpers every test file may use: a temporary folder per test, file bytes, one-line error checks
// and running the real `unipet` binary.
#include <gtest/gtest.h>

#include <sys/wait.h>
#include <unistd.h>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "test_paths.h"

namespace unipet::test {

/// A fresh folder under the system temp dir, removed when the test ends.
class TempDir {
 public:
  TempDir() {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    std::string name = std::string("unipet-") + (info ? info->test_suite_name() : "x") + "-" +
                       (info ? info->name() : "y") + "-" + std::to_string(::getpid());
    path_ = std::filesystem::temp_directory_path() / name;
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  const std::filesystem::path& path() const { return path_; }
  std::string operator/(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

/// Writes `bytes` to `path` as a file (for corrupt-input tests).
inline void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary) << bytes;
}

/// Contents of a file.
inline std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

/// Expects `fn` to throw unipet::Error whose message contains every one of `parts`.
template <typename Fn>
void expect_error(Fn&& fn, std::initializer_list<std::string> parts) {
  try {
    fn();
    ADD_FAILURE() << "expected unipet::Error";
  } catch (const std::exception& e) {
    const std::string msg = e.what();
    EXPECT_EQ(msg.find('\n'), std::string::npos) << "error is not one line: " << msg;
    for (const auto& p : parts) EXPECT_NE(msg.find(p), std::string::npos) << "'" << p << "' not in: " << msg;
  }
}

/// A MetaImage file written byte by byte (float32, x fastest), bypassing write_image's checks:
/// the way to make NaN-filled or oddly shaped inputs.
inline void write_raw_mha(const std::string& path, const std::vector<int>& sizes,
                          const std::vector<float>& values, const std::string& extra_header = "") {
  std::string header = "ObjectType = Image\nNDims = " + std::to_string(sizes.size()) + "\nDimSize =";
  for (int s : sizes) header += " " + std::to_string(s);
  header += "\n" + extra_header + "ElementType = MET_FLOAT\nElementDataFile = LOCAL\n";
  write_bytes(path, header + std::string(reinterpret_cast<const char*>(values.data()), values.size() * 4));
}

/// Output (stdout and stderr) and exit status of a shell command.
struct CommandResult {
  int status = -1;
  std::string output;
};

inline CommandResult run_command(const std::string& command) {
  CommandResult r;
  FILE* pipe = ::popen((command + " 2>&1").c_str(), "r");
  if (!pipe) return r;
  char buffer[4096];
  size_t n;
  while ((n = std::fread(buffer, 1, sizeof(buffer), pipe)) > 0) r.output.append(buffer, n);
  const int raw = ::pclose(pipe);
  r.status = WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
  return r;
}

/// True when `tool` is an executable on PATH.
inline bool on_path(const std::string& tool) { return run_command("command -v " + tool).status == 0; }

/// `unipet <args>` with stdout and stderr merged.
inline CommandResult unipet_cli(const std::string& args) {
  return run_command(std::string("'") + UNIPET_CLI_PATH + "' " + args);
}

/// The single "unipet: error: ..." line of a failed run ("" when there is none).
inline std::string error_line(const CommandResult& r) {
  const auto at = r.output.find("unipet: error: ");
  if (at == std::string::npos) return "";
  return r.output.substr(at, r.output.find('\n', at) - at);
}

/// `path` in single quotes for the shell (paths in tests have no quotes in them).
inline std::string q(const std::string& path) { return "'" + path + "'"; }

}  // namespace unipet::test
