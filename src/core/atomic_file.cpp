#include "unipet/core/atomic_file.h"

#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>

#include "unipet/core/error.h"

namespace unipet {

namespace fs = std::filesystem;

std::string temporary_sibling(const std::string& path) {
  static std::atomic<unsigned> counter{0};
  const fs::path target(path);
  // The unique part goes in front so that ".nii.gz" and friends stay the final extension.
  const std::string name = "." + std::to_string(::getpid()) + "-" + std::to_string(counter++) +
                           ".tmp." + target.filename().string();
  return (target.parent_path() / name).string();
}

void commit_temporary(const std::string& temporary, const std::string& path) {
  std::error_code ec;
  fs::rename(temporary, path, ec);
  if (ec) {
    std::error_code ignored;
    fs::remove_all(temporary, ignored);
    UNIPET_FAIL(path << ": cannot move the finished output into place: " << ec.message());
  }
}

void write_file_atomically(const std::string& path, const std::string& bytes) {
  const std::string temp = temporary_sibling(path);
  {
    std::ofstream out(temp, std::ios::binary | std::ios::trunc);
    UNIPET_CHECK(out.good(), path << ": cannot create a file in that folder");
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    out.flush();
    if (!out.good()) {
      out.close();
      std::error_code ignored;
      fs::remove(temp, ignored);
      UNIPET_FAIL(path << ": write failed (disk full?)");
    }
  }
  commit_temporary(temp, path);
}

}  // namespace unipet
