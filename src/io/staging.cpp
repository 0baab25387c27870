#include "staging.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <system_error>

#include "unipet/core/error.h"

namespace unipet::io::detail {

namespace fs = std::filesystem;

StagingDir::StagingDir(const fs::path& target) {
  destination_ = target.has_parent_path() ? target.parent_path() : fs::path(".");
  std::error_code ec;
  UNIPET_CHECK(fs::is_directory(destination_, ec),
               target.string() << ": output folder " << destination_.string() << " does not exist");
  // pid + counter keeps concurrent writers (tests, parallel jobs) from sharing a folder.
  static std::atomic<unsigned> counter{0};
  const std::string name = ".unipet-tmp-" + std::to_string(::getpid()) + "-" + std::to_string(counter++) +
                           "-" + target.filename().string();
  dir_ = destination_ / name;
  fs::remove_all(dir_, ec);
  UNIPET_CHECK(fs::create_directory(dir_, ec), target.string()
                                                   << ": cannot create a temporary folder in "
                                                   << destination_.string() << " (" << ec.message() << ")");
}

StagingDir::~StagingDir() {
  std::error_code ec;
  fs::remove_all(dir_, ec);
}

void StagingDir::publish(const std::vector<std::string>& names) {
  for (const auto& name : names) {
    const fs::path to = destination_ / name;
    std::error_code ec;
    // rename() cannot replace a non-empty folder; an existing output folder is replaced whole.
    if (fs::is_directory(to, ec)) fs::remove_all(to, ec);
    fs::rename(dir_ / name, to, ec);
    UNIPET_CHECK(!ec, to.string() << ": cannot move the finished output into place (" << ec.message() << ")");
  }
}

std::string lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return text;
}

bool ends_with_ci(const std::string& path, const std::string& suffix) {
  if (path.size() < suffix.size()) return false;
  return lower(path.substr(path.size() - suffix.size())) == lower(suffix);
}

}  // namespace unipet::io::detail
