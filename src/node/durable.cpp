#include "durable.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstring>
#include <ctime>

#include "unipet/core/atomic_file.h"
#include "unipet/core/error.h"

namespace unipet::node::detail {

namespace fs = std::filesystem;

void rename_durably(const fs::path& from, const fs::path& to) {
  UNIPET_CHECK(::rename(from.c_str(), to.c_str()) == 0,
               "cannot move " << from.string() << " to " << to.string() << ": " << std::strerror(errno));
  fsync_path(to.parent_path(), true);
  if (from.parent_path() != to.parent_path()) fsync_path(from.parent_path(), true);
}

void append_line_durably(const fs::path& path, const std::string& line) {
  const bool existed = fs::exists(path);
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  UNIPET_CHECK(fd >= 0, path.string() << ": cannot append: " << std::strerror(errno));
  const std::string text = line + "\n";
  const ssize_t n = ::write(fd, text.data(), text.size());
  const int werr = errno;
  const int rc = n == static_cast<ssize_t>(text.size()) ? ::fsync(fd) : -1;
  ::close(fd);
  UNIPET_CHECK(rc == 0, path.string() << ": cannot append: " << std::strerror(werr));
  if (!existed) fsync_path(path.parent_path(), true);
}

double epoch_seconds() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::string utc_text(double epoch) {
  const auto whole = static_cast<std::time_t>(std::floor(epoch));
  const int millis = std::clamp(static_cast<int>((epoch - static_cast<double>(whole)) * 1000), 0, 999);
  std::tm tm{};
  ::gmtime_r(&whole, &tm);
  char buf[64];  // room for any int fields, so the format can never truncate
  std::snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
                tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, millis);
  return buf;
}

std::string utc_now() { return utc_text(epoch_seconds()); }

}  // namespace unipet::node::detail
