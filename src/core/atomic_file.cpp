#include "unipet/core/atomic_file.h"

#include <unistd.h>

#include <atomic>
#include <fstream>
#include <system_error>

#include "unipet/core/error.h"

namespace unipet {

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

void write_file_atomically(const std::string& path, const std::string& bytes) {
  const fs::path target(path);
  StagingDir staging(target);
  const std::string name = target.filename().string();
  {
    std::ofstream out(staging.dir() / name, std::ios::binary | std::ios::trunc);
    UNIPET_CHECK(out.good(), path << ": cannot create a temporary file in " << staging.dir().parent_path().string());
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    out.flush();
    UNIPET_CHECK(out.good(), path << ": write failed (disk full?)");
  }
  staging.publish({name});
}

}  // namespace unipet
