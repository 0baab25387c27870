#pragma once
// Internal to src/node: the node's log stream, one JSON object per event (see
// include/unipet/node/node.h), and the text an error is logged with.
#include <exception>
#include <mutex>
#include <ostream>
#include <string>

#include <nlohmann/json.hpp>

namespace unipet::node::detail {

/// One JSON object per line, one line per event, written whole under a lock (the receiving,
/// assembling and working threads share one log).
class EventLog {
 public:
  explicit EventLog(std::ostream& out) : out_(out) {}
  /// Writes {"time": now (UTC), "event": event, ...fields}.
  void operator()(const std::string& event, nlohmann::json fields = nlohmann::json::object());

 private:
  std::ostream& out_;
  std::mutex mutex_;
};

/// An exception's message; LibTorch's without its C++ backtrace.
std::string error_text(const std::exception& e);

}  // namespace unipet::node::detail
