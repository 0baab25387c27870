#include "unipet/core/atomic_file.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <system_error>

#include "unipet/core/error.h"

namespace unipet {

namespace fs = std::filesystem;

namespace {

constexpr const char* kStagingPrefix = ".unipet-tmp-";

std::string errno_text() { return std::strerror(errno); }

fs::path parent_of(const fs::path& target) {
  const fs::path clean = target.lexically_normal();
  const fs::path name = clean.filename().empty() ? clean.parent_path() : clean;
  return name.has_parent_path() ? name.parent_path() : fs::path(".");
}

// The target with a trailing separator removed ("out/" names the folder "out").
fs::path without_trailing_slash(const fs::path& target) {
  const fs::path clean = target.lexically_normal();
  return clean.filename().empty() ? clean.parent_path() : clean;
}

// Absolute, with symlinks resolved as far as the path exists, so "a/../b", "./b" and a link to b
// compare equal.
fs::path resolved(const fs::path& p) {
  std::error_code ec;
  fs::path r = fs::weakly_canonical(fs::absolute(p, ec), ec);
  return ec ? fs::absolute(p).lexically_normal() : r;
}

bool is_within(const fs::path& inner, const fs::path& outer) {
  auto i = inner.begin();
  for (auto o = outer.begin(); o != outer.end(); ++o, ++i) {
    if (o->empty()) continue;  // a trailing separator
    if (i == inner.end() || *i != *o) return false;
  }
  return true;
}


void fsync_tree(const fs::path& path) {
  if (fs::is_directory(fs::symlink_status(path))) {
    for (const auto& entry : fs::directory_iterator(path)) fsync_tree(entry.path());
    fsync_path(path, true);
  } else if (fs::is_regular_file(fs::symlink_status(path))) {
    fsync_path(path, false);
  }
}

// A staging folder's name carries the pid of the process that made it; one whose process is gone
// was left by a killed run and is removed. A live pid (even if reused) keeps its folder.
void remove_stale_staging(const fs::path& folder) {
  std::error_code ec;
  for (fs::directory_iterator it(folder, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (!is_staging_name(name)) continue;
    const std::string rest = name.substr(std::strlen(kStagingPrefix));
    char* stop = nullptr;
    const long pid = std::strtol(rest.c_str(), &stop, 10);
    if (pid <= 0 || stop == rest.c_str() || *stop != '-') continue;
    if (::kill(static_cast<pid_t>(pid), 0) == 0 || errno != ESRCH) continue;
    std::error_code ignored;
    fs::remove_all(it->path(), ignored);
  }
}

}  // namespace

void fsync_path(const fs::path& path, bool directory) {
  const int fd = ::open(path.c_str(), (directory ? O_RDONLY | O_DIRECTORY : O_RDONLY) | O_CLOEXEC);
  UNIPET_CHECK(fd >= 0, path.string() << ": cannot open to sync it to disk (" << errno_text() << ")");
  const int rc = ::fsync(fd);
  const int error = rc == 0 ? 0 : errno;
  const std::string why = rc == 0 ? "" : errno_text();
  ::close(fd);
  // Some file systems (e.g. certain network mounts) cannot sync folders; data files must sync.
  UNIPET_CHECK(rc == 0 || (directory && (error == EINVAL || error == ENOTSUP)),
               path.string() << ": cannot sync to disk (" << why << ")");
}

bool is_staging_name(const std::string& filename) { return filename.rfind(kStagingPrefix, 0) == 0; }

void check_output_path(const fs::path& target_in, const OutputCheck& check) {
  UNIPET_CHECK(!target_in.empty(), "an output path is required");
  const fs::path target = without_trailing_slash(target_in);
  const std::string shown = target_in.string();
  std::error_code ec;
  const fs::path folder = parent_of(target_in);
  UNIPET_CHECK(fs::is_directory(folder, ec),
               shown << ": output folder " << folder.string() << " does not exist");
  const fs::file_status status = fs::status(target, ec);
  if (fs::exists(status)) {
    if (check.kind == OutputKind::File) {
      UNIPET_CHECK(!fs::is_directory(status),
                   shown << ": is a folder; refusing to replace it with a file (choose a file name)");
      UNIPET_CHECK(fs::is_regular_file(status),
                   shown << ": exists and is not a regular file; refusing to replace it");
    } else {
      UNIPET_CHECK(fs::is_directory(status), shown << ": exists and is not a folder; refusing to replace it");
      UNIPET_CHECK(check.existing_folder_is_ours || fs::is_empty(target, ec),
                   shown << ": folder exists and is not empty; refusing to write into it (choose a new folder)");
    }
  }
  check_apart_from_inputs(target_in, check.inputs);
}

void check_apart_from_inputs(const fs::path& target, const std::vector<fs::path>& inputs) {
  const std::string shown = target.string();
  const fs::path out = resolved(without_trailing_slash(target));
  std::error_code ec;
  for (const auto& input : inputs) {
    if (input.empty()) continue;
    const fs::path in = resolved(input);
    UNIPET_CHECK(out != in, shown << ": is the input " << input.string() << "; refusing to overwrite it");
    UNIPET_CHECK(!is_within(in, out), shown << ": holds the input " << input.string()
                                            << "; refusing to write over it");
    // An input folder (a DICOM series, a folder of studies) must not gain files either: its next
    // read would find the output among the inputs.
    UNIPET_CHECK(!fs::is_directory(in, ec) || !is_within(out, in),
                 shown << ": lies inside the input folder " << input.string() << "; refusing to write into it");
  }
}

StagingDir::StagingDir(const fs::path& target, OutputKind kind) {
  check_output_path(target, {kind});
  destination_ = parent_of(target);
  remove_stale_staging(destination_);
  // pid + counter keeps concurrent writers (tests, parallel jobs) from sharing a folder.
  static std::atomic<unsigned> counter{0};
  const std::string name = kStagingPrefix + std::to_string(::getpid()) + "-" + std::to_string(counter++) +
                           "-" + without_trailing_slash(target).filename().string();
  dir_ = destination_ / name;
  std::error_code ec;
  UNIPET_CHECK(fs::create_directory(dir_, ec) && !ec,
               target.string() << ": cannot create a temporary folder in " << destination_.string() << " ("
                               << (ec ? ec.message() : "it already exists") << ")");
}

StagingDir::~StagingDir() {
  std::error_code ec;
  fs::remove_all(dir_, ec);
}

void StagingDir::publish(const std::vector<std::string>& names) {
  for (const auto& name : names) fsync_tree(dir_ / name);
  for (const auto& name : names) {
    const fs::path from = dir_ / name;
    const fs::path to = destination_ / name;
    std::error_code ec;
    const fs::file_status existing = fs::status(to, ec);
    if (fs::is_directory(fs::symlink_status(from))) {
      // rename() itself replaces only an empty folder; it never deletes anything else.
      UNIPET_CHECK(!fs::exists(existing) || (fs::is_directory(existing) && fs::is_empty(to, ec)),
                   to.string() << ": exists and is not an empty folder; refusing to replace it");
    } else {
      UNIPET_CHECK(!fs::exists(existing) || fs::is_regular_file(existing),
                   to.string() << ": exists and is not a regular file; refusing to replace it");
    }
    fs::rename(from, to, ec);
    UNIPET_CHECK(!ec, to.string() << ": cannot move the finished output into place (" << ec.message() << ")");
  }
  fsync_path(destination_, true);
}

CreatedFolder::CreatedFolder(const fs::path& folder) {
  fs::path p = fs::absolute(folder).lexically_normal();
  if (p.filename().empty()) p = p.parent_path();
  std::vector<fs::path> missing;
  for (; !p.empty() && !fs::exists(fs::symlink_status(p)); p = p.parent_path()) {
    missing.push_back(p);
    if (p == p.parent_path()) break;
  }
  for (auto it = missing.rbegin(); it != missing.rend(); ++it) {
    std::error_code ec;
    fs::create_directory(*it, ec);
    UNIPET_CHECK(!ec, folder.string() << ": cannot create folder " << it->string() << " (" << ec.message() << ")");
    created_.insert(created_.begin(), *it);
  }
  std::error_code ec;
  UNIPET_CHECK(fs::is_directory(folder, ec), folder.string() << ": exists and is not a folder");
}

CreatedFolder::~CreatedFolder() {
  for (const auto& dir : created_) {
    // remove() deletes only an empty folder: whatever was written into it is never lost.
    std::error_code ec;
    if (!fs::remove(dir, ec)) break;
  }
}

void write_file_atomically(const std::string& path, const std::string& bytes) {
  const fs::path target(path);
  StagingDir staging(target);
  const std::string name = target.filename().string();
  const fs::path temp = staging.dir() / name;
  const int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
  UNIPET_CHECK(fd >= 0, path << ": cannot create a temporary file in " << staging.dir().parent_path().string()
                             << " (" << errno_text() << ")");
  size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const std::string why = n < 0 ? errno_text() : "nothing written";
      ::close(fd);
      UNIPET_FAIL(path << ": write failed after " << done << " of " << bytes.size() << " bytes (" << why << ")");
    }
    done += static_cast<size_t>(n);
  }
  UNIPET_CHECK(::close(fd) == 0, path << ": write failed when closing the file (" << errno_text() << ")");
  staging.publish({name});
}

}  // namespace unipet
