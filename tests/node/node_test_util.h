#pragma once
// Helpers for the DICOM node tests: background processes (the node, dcmtk's storescp), free
// loopback ports, waiting with a deadline, and the small PET series the tests send.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "io/dicom_test_util.h"
#include "test_util.h"

namespace unipet::test {

/// A TCP port on 127.0.0.1 that nothing listens on now (the kernel's pick).
inline int free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  socklen_t len = sizeof(addr);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

/// Polls `done` every 50 ms until it is true or `seconds` have passed; returns its last value.
inline bool wait_until(const std::function<bool()>& done, double seconds) {
  const auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  while (std::chrono::steady_clock::now() < end) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return done();
}

/// A shell command run in the background, its stdout and stderr in `log`; killed (SIGKILL) when
/// the object goes away.
class Process {
 public:
  Process(const std::string& command, const std::string& log) {
    pid_ = ::fork();
    if (pid_ == 0) {
      ::setpgid(0, 0);
      const std::string line = "exec " + command + " >>" + q(log) + " 2>&1";
      ::execl("/bin/sh", "sh", "-c", line.c_str(), static_cast<char*>(nullptr));
      ::_exit(127);
    }
  }
  ~Process() { kill9(); }
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  pid_t pid() const { return pid_; }
  bool running() {
    if (pid_ <= 0) return false;
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      exit_status_ = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
      pid_ = -1;
      return false;
    }
    return true;
  }
  /// kill -9, and reap it.
  void kill9() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }
  /// SIGTERM, then the exit status (-1 when it had to be killed after `seconds`).
  int terminate(double seconds = 10) {
    if (pid_ <= 0) return exit_status_;
    ::kill(pid_, SIGTERM);
    if (!wait_until([&] { return !running(); }, seconds)) {
      kill9();
      return -1;
    }
    return exit_status_;
  }
  /// Resident memory of the process in kB (0 when not running).
  long rss_kb() const {
    std::ifstream in("/proc/" + std::to_string(pid_) + "/status");
    for (std::string line; std::getline(in, line);)
      if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
    return 0;
  }

 private:
  pid_t pid_ = -1;
  int exit_status_ = -1;
};

/// Values of slice k of the test series (stored int16, RescaleSlope 2: 0..60000 Bq/ml).
inline std::vector<int16_t> test_slice_values(int k) {
  std::vector<int16_t> stored(10 * 12);
  for (size_t i = 0; i < stored.size(); ++i) stored[i] = static_cast<int16_t>((i * 37 + k * 1000) % 30000);
  return stored;
}

/// A valid 6-slice PET series (10 x 12 pixels, NumberOfSlices 6) as folder/0.dcm .. 5.dcm.
inline void write_test_series(const std::string& folder, const std::string& series_uid, int slices = 6) {
  write_pet_series(folder, series_uid, slices, 3.0, 10, 12, test_slice_values, 2.0);
}

/// Regular files in `folder` (none when it does not exist).
inline std::vector<std::string> files_in(const std::string& folder) {
  std::vector<std::string> files;
  std::error_code ec;
  for (std::filesystem::directory_iterator it(folder, ec), end; !ec && it != end; it.increment(ec))
    if (it->is_regular_file()) files.push_back(it->path().string());
  return files;
}

/// SOPInstanceUID of each DICOM file in `folder` (read with dcmdump), one entry per file.
inline std::vector<std::string> sop_instance_uids(const std::string& folder) {
  std::vector<std::string> uids;
  for (const auto& f : files_in(folder)) {
    const auto r = run_command("dcmdump -q +P 0008,0018 " + q(f));
    const auto open = r.output.find('['), close = r.output.find(']');
    uids.push_back(open == std::string::npos ? "?" : r.output.substr(open + 1, close - open - 1));
  }
  return uids;
}

/// The JSON lines of a node's log with "event" == `event`.
inline std::vector<nlohmann::json> log_events(const std::string& log, const std::string& event) {
  std::vector<nlohmann::json> found;
  std::ifstream in(log);
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line[0] != '{') continue;
    const auto j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_object() && j.value("event", "") == event) found.push_back(j);
  }
  return found;
}

/// `unipet serve` on a free port, forwarding to PACS@127.0.0.1:forward_port, started and
/// answering C-ECHO; `extra` are further options.
class Node {
 public:
  Node(const std::string& work, int forward_port, const std::string& model, const std::string& extra,
       const std::string& log)
      : port_(free_port()), log_(log) {
    const std::string command = std::string("'") + UNIPET_CLI_PATH + "' serve --aet UNIPET --port " +
                                std::to_string(port_) + " --forward PACS@127.0.0.1:" + std::to_string(forward_port) +
                                " --work " + q(work) + " -m " + q(model) + " --threads 1 " + extra;
    process_ = std::make_unique<Process>(command, log);
    started_ = wait_until([&] { return !process_->running() || echo("ECHOSCU").status == 0; }, 30) &&
               process_->running();
  }
  bool started() const { return started_; }
  int port() const { return port_; }
  Process& process() { return *process_; }
  CommandResult echo(const std::string& calling, const std::string& called = "UNIPET") const {
    return run_command("echoscu -to 5 -aet " + calling + " -aec " + called + " 127.0.0.1 " + std::to_string(port_));
  }
  /// storescu of `files` (a shell word list) as `calling`.
  CommandResult store(const std::string& files, const std::string& calling = "SCANNER") const {
    return run_command("storescu -to 10 -aet " + calling + " -aec UNIPET 127.0.0.1 " + std::to_string(port_) + " " + files);
  }
  size_t count(const std::string& event) const { return log_events(log_, event).size(); }

 private:
  int port_;
  std::string log_;
  std::unique_ptr<Process> process_;
  bool started_ = false;
};

/// dcmtk's storescp as the receiving PACS (AE title PACS) on a free port, every instance it
/// receives kept under its own name (+uf), so an instance received twice shows as two files.
class Receiver {
 public:
  Receiver(const std::string& folder, const std::string& log, const std::string& extra = "", int port = 0)
      : port_(port ? port : free_port()), folder_(folder) {
    std::filesystem::create_directories(folder);
    process_ = std::make_unique<Process>(
        "storescp -aet PACS +uf " + extra + " -od " + q(folder) + " " + std::to_string(port_), log);
    wait_until([&] {
      return run_command("echoscu -to 2 -aec PACS 127.0.0.1 " + std::to_string(port_)).status == 0;
    }, 10);
  }
  int port() const { return port_; }
  size_t files() const { return files_in(folder_).size(); }
  Process& process() { return *process_; }

 private:
  int port_;
  std::string folder_;
  std::unique_ptr<Process> process_;
};

}  // namespace unipet::test
