#include "queue.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>

#include "durable.h"
#include "unipet/core/atomic_file.h"
#include "unipet/core/error.h"
#include "unipet/core/text.h"

namespace unipet::node::detail {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

void remove_temporaries(const fs::path& root) {
  std::error_code ec;
  for (State state : kAllStates) {
    const fs::path dir = root / state_name(state);
    for (const auto& entry : fs::directory_iterator(dir)) {
      const std::string name = entry.path().filename().string();
      // A new series being made when the node died: its first instance was never confirmed.
      if (starts_with(name, ".new-") || starts_with(name, ".")) {
        fs::remove_all(entry.path(), ec);
        continue;
      }
      const fs::path instances = entry.path() / "instances";
      if (fs::is_directory(instances))
        for (const auto& file : fs::directory_iterator(instances))
          if (starts_with(file.path().filename().string(), ".")) fs::remove(file.path(), ec);
      // Temporary files and the staging folders of write_file_atomically.
      for (const auto& file : fs::directory_iterator(entry.path()))
        if (starts_with(file.path().filename().string(), ".")) fs::remove_all(file.path(), ec);
    }
  }
}

}  // namespace

const char* state_name(State state) {
  switch (state) {
    case State::Received: return "received";
    case State::Queued: return "queued";
    case State::Running: return "running";
    case State::Sending: return "sending";
    case State::Sent: return "sent";
    case State::DeadLetter: return "dead-letter";
  }
  return "?";
}

WorkFolder::WorkFolder(const fs::path& root) : root_(root) {
  std::error_code ec;
  // The one output rule: a new or empty folder, or a node's own work folder (its lock file); a
  // folder of someone's files would get the queue's folders mixed in among them.
  UNIPET_CHECK(fs::exists(root_ / "node.lock", ec) || !fs::exists(root_, ec) || !fs::is_directory(root_, ec) ||
                   fs::is_empty(root_, ec),
               "--work " << root_.string()
                         << ": folder exists, is not empty and is not a node's work folder; choose a new or empty one");
  fs::create_directories(root_, ec);
  UNIPET_CHECK(fs::is_directory(root_), "--work " << root_.string() << ": cannot create the folder"
                                                  << (ec ? ": " + ec.message() : std::string()));
  const fs::path lock = root_ / "node.lock";
  lock_fd_ = ::open(lock.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  UNIPET_CHECK(lock_fd_ >= 0, "--work " << root_.string() << ": cannot write in it: " << std::strerror(errno));
  if (::flock(lock_fd_, LOCK_EX | LOCK_NB) != 0) {
    ::close(lock_fd_);
    lock_fd_ = -1;
    UNIPET_FAIL("--work " << root_.string() << ": another unipet serve is using this folder");
  }
  for (State state : kAllStates) fs::create_directories(root_ / state_name(state));
  fsync_path(root_, true);
  remove_temporaries(root_);
}

WorkFolder::~WorkFolder() {
  if (lock_fd_ >= 0) ::close(lock_fd_);
}

fs::path WorkFolder::series(State state, const std::string& key) const { return root_ / state_name(state) / key; }

std::vector<std::string> WorkFolder::keys(State state) const {
  std::vector<std::pair<double, std::string>> found;
  for (const auto& entry : fs::directory_iterator(root_ / state_name(state))) {
    const std::string key = entry.path().filename().string();
    if (key.empty() || key[0] == '.' || !entry.is_directory()) continue;
    found.emplace_back(read_state(state, key).value("entered_at", 0.0), key);
  }
  std::sort(found.begin(), found.end());
  std::vector<std::string> keys;
  for (auto& [when, key] : found) keys.push_back(key);
  return keys;
}

std::optional<State> WorkFolder::find(const std::string& key) const {
  for (State state : kAllStates)
    if (fs::is_directory(series(state, key))) return state;
  return std::nullopt;
}

std::vector<std::string> WorkFolder::keys_of(const std::string& series_uid) const {
  std::vector<std::string> keys;
  for (State state : kAllStates)
    for (const auto& entry : fs::directory_iterator(root_ / state_name(state))) {
      const std::string key = entry.path().filename().string();
      if (key == series_uid || starts_with(key, series_uid + "_")) keys.push_back(key);
    }
  return keys;
}

std::string WorkFolder::new_key(const std::string& series_uid) const {
  const auto used = keys_of(series_uid);
  std::string key = series_uid;
  for (int n = 2; std::find(used.begin(), used.end(), key) != used.end(); ++n) key = series_uid + "_" + std::to_string(n);
  return key;
}

void WorkFolder::create(const std::string& key, const json& state) {
  const fs::path staging = root_ / state_name(State::Received) / (".new-" + key);
  std::error_code ec;
  fs::remove_all(staging, ec);
  fs::create_directories(staging / "instances");
  json value = state;
  value["entered_at"] = epoch_seconds();
  value["updated_at"] = utc_now();
  write_file_atomically((staging / "state.json").string(), value.dump(1));
  fsync_path(staging / "instances", true);
  rename_durably(staging, series(State::Received, key));
}

json WorkFolder::read_state(State state, const std::string& key) const {
  std::ifstream in(series(state, key) / "state.json");
  if (!in) return json::object();
  json value = json::parse(in, nullptr, false);
  return value.is_object() ? value : json::object();
}

void WorkFolder::write_state(State state, const std::string& key, json value) {
  value["updated_at"] = utc_now();
  write_file_atomically((series(state, key) / "state.json").string(), value.dump(1));
}

void WorkFolder::move(const std::string& key, State from, State to, const json& changes) {
  json value = read_state(from, key);
  value.update(changes);
  value["state"] = state_name(to);
  value["entered_at"] = epoch_seconds();
  write_state(from, key, value);
  rename_durably(series(from, key), series(to, key));
}

std::vector<json> read_series_states(const fs::path& root) {
  UNIPET_CHECK(fs::is_directory(root / state_name(State::Received)) && fs::is_directory(root / state_name(State::Sent)),
               root.string() << ": is not the --work folder of a unipet serve node (no received/ or sent/ in it)");
  std::vector<json> all;
  for (State state : kAllStates) {
    for (const auto& entry : fs::directory_iterator(root / state_name(state))) {
      const std::string key = entry.path().filename().string();
      if (key.empty() || key[0] == '.' || !entry.is_directory()) continue;
      std::ifstream in(entry.path() / "state.json");
      json value = in ? json::parse(in, nullptr, false) : json::object();
      if (!value.is_object()) value = json::object();
      value["state"] = state_name(state);
      value["key"] = key;
      if (state == State::Received || !value.contains("instances")) {
        int64_t n = 0;
        std::error_code ec;
        for (fs::directory_iterator it(entry.path() / "instances", ec), end; !ec && it != end; it.increment(ec))
          if (it->path().extension() == ".dcm") ++n;
        value["instances"] = n;
      }
      all.push_back(value);
    }
  }
  std::sort(all.begin(), all.end(), [](const json& a, const json& b) {
    return a.value("created_at", 0.0) < b.value("created_at", 0.0);
  });
  return all;
}

}  // namespace unipet::node::detail
