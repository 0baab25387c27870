#include "event_log.h"

#include <c10/util/Exception.h>

#include "durable.h"

namespace unipet::node::detail {

void EventLog::operator()(const std::string& event, nlohmann::json fields) {
  nlohmann::json line = {{"time", utc_now()}, {"event", event}};
  line.update(fields);
  const std::string text = line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
  std::lock_guard<std::mutex> lock(mutex_);
  out_ << text << std::flush;
}

std::string error_text(const std::exception& e) {
  if (const auto* c10 = dynamic_cast<const c10::Error*>(&e)) return c10->what_without_backtrace();
  return e.what();
}

}  // namespace unipet::node::detail
