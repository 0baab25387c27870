// `unipet train --nproc N`: the POSIX process handling (fork, exec, pipes, signals) of a local
// job, kept in this one file.
#include "unipet/train/launcher.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <map>
#include <optional>

#include "unipet/core/error.h"
#include "unipet/train/distributed.h"

extern char** environ;

namespace unipet::train {
namespace {

using Clock = std::chrono::steady_clock;

std::atomic<int> g_forward_signal{0};
extern "C" void remember_signal(int signal) { g_forward_signal.store(signal); }

void write_all(int fd, const std::string& text) {
  size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;  // our own stdout is gone; the workers' status still decides the result
    done += static_cast<size_t>(n);
  }
}

// One stream of one worker, copied line by line so lines of different ranks never interleave.
struct Relay {
  int fd = -1;
  int target = 1;  ///< our stdout or stderr
  std::string prefix, pending;

  void read_some() {
    char buffer[4096];
    const ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) return;
    if (n <= 0) {
      flush();
      ::close(fd);
      fd = -1;
      return;
    }
    pending.append(buffer, static_cast<size_t>(n));
    std::string out;
    size_t start = 0;
    for (size_t end; (end = pending.find('\n', start)) != std::string::npos; start = end + 1)
      out += prefix + pending.substr(start, end + 1 - start);
    pending.erase(0, start);
    write_all(target, out);
  }
  void flush() {
    if (!pending.empty()) write_all(target, prefix + pending + "\n");
    pending.clear();
  }
};

struct Worker {
  int64_t rank = 0;
  pid_t pid = -1;
  std::optional<int> status;  ///< waitpid status once reaped
};

std::string describe(const Worker& w) {
  std::string s = "rank " + std::to_string(w.rank) + " (pid " + std::to_string(w.pid) + ")";
  if (WIFSIGNALED(*w.status))
    return s + " was killed by signal " + std::to_string(WTERMSIG(*w.status)) + " (" +
           ::strsignal(WTERMSIG(*w.status)) + ")";
  return s + " exited with status " + std::to_string(WEXITSTATUS(*w.status));
}

bool failed(int status) { return !WIFEXITED(status) || WEXITSTATUS(status) != 0; }

// The environment of rank `rank`: ours, with the job's layout replacing any the launcher had.
std::vector<std::string> worker_environment(int64_t rank, int64_t nproc, int port) {
  const std::map<std::string, std::string> layout{{"RANK", std::to_string(rank)},
                                                  {"WORLD_SIZE", std::to_string(nproc)},
                                                  {"LOCAL_RANK", std::to_string(rank)},
                                                  {"LOCAL_WORLD_SIZE", std::to_string(nproc)},
                                                  {"MASTER_ADDR", "127.0.0.1"},
                                                  {"MASTER_PORT", std::to_string(port)},
                                                  {"TORCHELASTIC_USE_AGENT_STORE", "True"}};
  std::vector<std::string> env;
  for (char** v = environ; v && *v; ++v) {
    const std::string entry(*v);
    if (!layout.count(entry.substr(0, entry.find('=')))) env.push_back(entry);
  }
  for (const auto& [key, value] : layout) env.push_back(key + "=" + value);
  return env;
}

std::vector<char*> c_strings(std::vector<std::string>& strings) {
  std::vector<char*> out;
  for (std::string& s : strings) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

// Forks one worker whose stdout and stderr are the write ends of two new pipes.
Worker start_worker(const std::vector<std::string>& command, int64_t rank, int64_t nproc, int port,
                    Relay& out, Relay& err) {
  // Everything exec needs is built before fork: the child of a threaded process may only call
  // async-signal-safe functions.
  std::vector<std::string> args = command, env = worker_environment(rank, nproc, port);
  std::vector<char*> argv = c_strings(args), envp = c_strings(env);
  int out_pipe[2], err_pipe[2];
  UNIPET_CHECK(::pipe2(out_pipe, O_CLOEXEC) == 0 && ::pipe2(err_pipe, O_CLOEXEC) == 0,
               "--nproc: cannot create pipes for rank " << rank << ": " << std::strerror(errno));
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  UNIPET_CHECK(pid >= 0, "--nproc: cannot start rank " << rank << ": " << std::strerror(errno));
  if (pid == 0) {
    // A launcher that is killed outright takes its workers along instead of orphaning them.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(127);
    ::dup2(out_pipe[1], STDOUT_FILENO);
    ::dup2(err_pipe[1], STDERR_FILENO);
    ::signal(SIGINT, SIG_DFL);
    ::signal(SIGTERM, SIG_DFL);
    ::execve(argv[0], argv.data(), envp.data());
    const char message[] = "unipet: error: --nproc: cannot execute the worker\n";
    (void)!::write(STDERR_FILENO, message, sizeof message - 1);
    ::_exit(127);
  }
  ::close(out_pipe[1]);
  ::close(err_pipe[1]);
  const std::string prefix = "[rank " + std::to_string(rank) + "] ";
  out = Relay{out_pipe[0], STDOUT_FILENO, prefix, {}};
  err = Relay{err_pipe[0], STDERR_FILENO, prefix, {}};
  return Worker{rank, pid, std::nullopt};
}

void signal_all(const std::vector<Worker>& workers, int signal) {
  for (const Worker& w : workers)
    if (!w.status) ::kill(w.pid, signal);
}

// Restores SIGINT/SIGTERM handling when the launch ends, however it ends.
class ForwardSignals {
 public:
  ForwardSignals() {
    g_forward_signal.store(0);
    struct sigaction a {};
    a.sa_handler = remember_signal;
    ::sigemptyset(&a.sa_mask);
    ::sigaction(SIGINT, &a, &old_int_);
    ::sigaction(SIGTERM, &a, &old_term_);
  }
  ~ForwardSignals() {
    ::sigaction(SIGINT, &old_int_, nullptr);
    ::sigaction(SIGTERM, &old_term_, nullptr);
  }
  ForwardSignals(const ForwardSignals&) = delete;
  ForwardSignals& operator=(const ForwardSignals&) = delete;

 private:
  using Action = struct sigaction;
  Action old_int_{}, old_term_{};
};

}  // namespace

void launch_local_workers(const LaunchOptions& o) {
  UNIPET_CHECK(o.nproc >= 1, "--nproc must be >= 1, got " << o.nproc);
  UNIPET_CHECK(!o.command.empty(), "launch_local_workers: no command");
  RendezvousServer store("127.0.0.1", 0, o.nproc);
  ForwardSignals forward;
  std::vector<Worker> workers;
  std::vector<Relay> relays(2 * static_cast<size_t>(o.nproc));
  std::optional<size_t> first_failure;
  // When the survivors of a failure get SIGKILL; max: no failure (yet).
  Clock::time_point kill_at = Clock::time_point::max();
  try {
    for (int64_t r = 0; r < o.nproc; ++r)
      workers.push_back(start_worker(o.command, r, o.nproc, store.port(), relays[2 * r], relays[2 * r + 1]));
  } catch (const Error&) {
    signal_all(workers, SIGKILL);
    for (Worker& w : workers) ::waitpid(w.pid, nullptr, 0);
    throw;
  }
  bool forwarded = false;
  for (;;) {
    std::vector<pollfd> fds;
    std::vector<Relay*> open;
    for (Relay& r : relays)
      if (r.fd >= 0) {
        fds.push_back({r.fd, POLLIN, 0});
        open.push_back(&r);
      }
    bool running = false;
    for (const Worker& w : workers) running = running || !w.status;
    if (fds.empty() && !running) break;
    // A short timeout: exits and signals are checked between reads.
    const int ready = ::poll(fds.data(), fds.size(), 50);
    for (size_t i = 0; ready > 0 && i < fds.size(); ++i)
      if (fds[i].revents & (POLLIN | POLLHUP | POLLERR)) open[i]->read_some();
    for (size_t i = 0; i < workers.size(); ++i) {
      Worker& w = workers[i];
      int status = 0;
      if (w.status || ::waitpid(w.pid, &status, WNOHANG) != w.pid) continue;
      w.status = status;
      if (failed(status) && !first_failure) {
        first_failure = i;
        // The others would fail at their next collective anyway; stopping them now makes the
        // job end within seconds even if one is in a long computation.
        signal_all(workers, SIGTERM);
        kill_at = Clock::now() + o.grace;
      }
    }
    if (const int s = g_forward_signal.exchange(0); s != 0 && !forwarded) {
      // Ctrl-C or a scheduler's SIGTERM: every worker finishes its step, checkpoints, exits 0.
      signal_all(workers, SIGTERM);
      forwarded = true;
    }
    if (Clock::now() >= kill_at) {
      signal_all(workers, SIGKILL);
      kill_at = Clock::time_point::max();
    }
  }
  if (first_failure) {
    int64_t others = 0;
    for (size_t i = 0; i < workers.size(); ++i)
      others += (i != *first_failure && failed(*workers[i].status)) ? 1 : 0;
    UNIPET_FAIL(describe(workers[*first_failure]) << "; the job stopped (" << others << " other rank"
                                                  << (others == 1 ? "" : "s") << " ended with it)");
  }
}

}  // namespace unipet::train
