#include "unipet/infer/default_model.h"

#include <cstdlib>
#include <filesystem>
#include <sstream>
#include <system_error>

#include "unipet/core/error.h"

namespace unipet::infer {

namespace fs = std::filesystem;

namespace {

constexpr const char* kEnvironment = "UNIPET_DEFAULT_MODEL";

// The folder of the running executable (Linux: /proc/self/exe); empty when it cannot be read,
// e.g. in a sandbox without /proc.
fs::path executable_folder() {
  std::error_code error;
  const fs::path exe = fs::read_symlink("/proc/self/exe", error);
  return error ? fs::path() : exe.parent_path();
}

}  // namespace

std::vector<std::string> default_model_candidates() {
  std::vector<std::string> candidates;
  if (const char* file = std::getenv(kEnvironment); file && *file) candidates.emplace_back(file);
  const fs::path exe = executable_folder();
  if (!exe.empty()) {
    candidates.push_back((exe / "models" / kDefaultModelName).string());
    candidates.push_back((exe.parent_path() / "share" / "unipet" / "models" / kDefaultModelName).lexically_normal().string());
  }
  return candidates;
}

std::string default_model_path() {
  // A variable set to a missing file is a mistake to report, not to fall back from silently.
  if (const char* file = std::getenv(kEnvironment); file && *file) {
    UNIPET_CHECK(fs::is_regular_file(file), kEnvironment << "=" << file << ": no such model file");
    return file;
  }
  const std::vector<std::string> candidates = default_model_candidates();
  for (const std::string& candidate : candidates)
    if (fs::is_regular_file(candidate)) return candidate;
  std::ostringstream tried;
  for (size_t i = 0; i < candidates.size(); ++i) tried << (i ? ", " : "") << candidates[i];
  UNIPET_FAIL("no default model found (looked in " << (candidates.empty() ? "no place" : tried.str())
                                                     << "); name one with --model, or set " << kEnvironment);
}

}  // namespace unipet::infer
