#pragma once
// Internal to src/node: the crash-safe queue on disk (see include/unipet/node/node.h for the
// layout). Only one process uses a work folder at a time (WorkFolder holds an flock).
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace unipet::node::detail {

enum class State { Received, Queued, Running, Sending, Sent, DeadLetter };
inline constexpr State kAllStates[] = {State::Received, State::Queued,  State::Running,
                                       State::Sending,  State::Sent,    State::DeadLetter};

/// "received", "queued", "running", "sending", "sent", "dead-letter": the folder and the name.
const char* state_name(State state);

/// A node's work folder. Creating one makes the state folders, takes the lock (throws
/// unipet::Error when another node holds it) and removes temporaries a killed node left.
class WorkFolder {
 public:
  explicit WorkFolder(const std::filesystem::path& root);
  ~WorkFolder();
  WorkFolder(const WorkFolder&) = delete;
  WorkFolder& operator=(const WorkFolder&) = delete;

  const std::filesystem::path& root() const { return root_; }
  std::filesystem::path series(State state, const std::string& key) const;
  /// Keys of the series in `state`, sorted by when they entered it (then by key).
  std::vector<std::string> keys(State state) const;
  /// The state the series `key` is in, if any.
  std::optional<State> find(const std::string& key) const;
  /// Keys in any state that hold instances of `series_uid` (the key itself or KEY_n).
  std::vector<std::string> keys_of(const std::string& series_uid) const;
  /// A key for a new batch of `series_uid` no folder uses yet.
  std::string new_key(const std::string& series_uid) const;
  /// Makes received/KEY (with instances/ and state.json) atomically.
  void create(const std::string& key, const nlohmann::json& state);

  nlohmann::json read_state(State state, const std::string& key) const;
  /// Replaces state.json of the series durably; "updated_at" is set to now.
  void write_state(State state, const std::string& key, nlohmann::json value);
  /// Writes `changes` into state.json (with "updated_at"), then moves the series durably.
  void move(const std::string& key, State from, State to, const nlohmann::json& changes);

 private:
  std::filesystem::path root_;
  int lock_fd_ = -1;
};

/// Status of every series under `root` as JSON objects (state, key and state.json's fields).
std::vector<nlohmann::json> read_series_states(const std::filesystem::path& root);

}  // namespace unipet::node::detail
