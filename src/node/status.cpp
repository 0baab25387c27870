#include <iomanip>
#include <map>
#include <sstream>

#include "durable.h"
#include "queue.h"
#include "unipet/node/node.h"

namespace unipet::node {

using nlohmann::json;

std::vector<SeriesStatus> read_status(const std::string& work) {
  std::vector<SeriesStatus> out;
  for (const json& v : detail::read_series_states(work)) {
    SeriesStatus s;
    s.state = v.value("state", "");
    s.key = v.value("key", "");
    s.series_uid = v.value("series_uid", "");
    s.calling_aet = v.value("calling_aet", "");
    s.instances = v.value("instances", int64_t{0});
    s.received_at = v.value("received_at", "");
    s.queued_at = v.value("queued_at", "");
    s.sent_at = v.value("sent_at", "");
    s.failed_at = v.value("failed_at", "");
    s.updated_at = v.value("updated_at", "");
    s.attempts = v.value("attempts", 0);
    const double next = v.value("next_attempt", 0.0);
    if (s.state == "sending" && next > 0) s.next_attempt_at = detail::utc_text(next);
    s.error = v.value("error", "");
    out.push_back(s);
  }
  return out;
}

std::string format_status(const std::vector<SeriesStatus>& series) {
  std::ostringstream out;
  out << std::left << std::setw(12) << "STATE" << std::setw(10) << "INSTANCES" << std::setw(26) << "RECEIVED"
      << std::setw(26) << "UPDATED" << "SERIES / DETAIL\n";
  std::map<std::string, int> counts;
  for (const auto& s : series) {
    ++counts[s.state];
    std::string detail = s.key;
    if (!s.calling_aet.empty()) detail += "  from " + s.calling_aet;
    if (!s.sent_at.empty()) detail += "  sent " + s.sent_at;
    if (s.attempts > 0) detail += "  " + std::to_string(s.attempts) + " failed send(s)";
    if (!s.next_attempt_at.empty()) detail += "  next try " + s.next_attempt_at;
    if (!s.error.empty()) detail += "  error: " + s.error;
    out << std::setw(12) << s.state << std::setw(10) << s.instances << std::setw(26)
        << (s.received_at.empty() ? "-" : s.received_at) << std::setw(26) << (s.updated_at.empty() ? "-" : s.updated_at)
        << detail << "\n";
  }
  out << series.size() << " series:";
  for (const char* state : {"received", "queued", "running", "sending", "sent", "dead-letter"})
    out << " " << counts[state] << " " << state;
  out << "\n";
  return out.str();
}

std::string status_json(const std::vector<SeriesStatus>& series) {
  json list = json::array();
  json counts = json::object();
  for (const char* state : {"received", "queued", "running", "sending", "sent", "dead-letter"}) counts[state] = 0;
  for (const auto& s : series) {
    counts[s.state] = counts.value(s.state, 0) + 1;
    list.push_back({{"state", s.state},
                    {"key", s.key},
                    {"series_uid", s.series_uid},
                    {"calling_aet", s.calling_aet},
                    {"instances", s.instances},
                    {"received_at", s.received_at},
                    {"queued_at", s.queued_at},
                    {"sent_at", s.sent_at},
                    {"failed_at", s.failed_at},
                    {"updated_at", s.updated_at},
                    {"attempts", s.attempts},
                    {"next_attempt_at", s.next_attempt_at},
                    {"error", s.error}});
  }
  return json{{"updated_at", detail::utc_now()}, {"counts", counts}, {"series", list}}.dump(1);
}

}  // namespace unipet::node
