#include "unipet/node/node.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <fstream>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include <nlohmann/json.hpp>

#include "durable.h"
#include "event_log.h"
#include "queue.h"
#include "unipet/core/atomic_file.h"
#include "unipet/core/error.h"
#include "unipet/infer/default_model.h"

namespace unipet::node {

namespace fs = std::filesystem;
using detail::error_text;
using detail::EventLog;
using detail::State;
using nlohmann::json;

namespace {

constexpr const char* kPetImageStorage = "1.2.840.10008.5.1.4.1.1.128";
using Clock = std::chrono::steady_clock;

/// Thrown from the denoiser's progress callback when the node is asked to stop.
struct Stopped : std::exception {};

/// A series still receiving instances (in received/).
struct Receiving {
  std::string series_uid, calling_aet;
  int64_t instances = 0, expected = 0;
  Clock::time_point last;
  double last_epoch = 0;
  std::set<int64_t> associations;
};

std::vector<std::string> derived_files(const fs::path& dir) {
  std::vector<std::string> files;
  for (const auto& entry : fs::directory_iterator(dir))
    if (entry.is_regular_file() && entry.path().filename().string()[0] != '.') files.push_back(entry.path().string());
  std::sort(files.begin(), files.end());
  return files;
}

std::set<std::string> read_lines(const fs::path& path) {
  std::set<std::string> lines;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) lines.insert(line);
  return lines;
}

class Node {
 public:
  Node(const NodeOptions& options, std::ostream& log, const std::function<bool()>& stop)
      : o_(options),
        log_(log),
        stop_(stop),
        denoiser_(options.model.empty() ? infer::default_model_path() : options.model, options.denoise),
        work_(options.work) {
    resume();
  }

  void run() {
    log_("node_started", {{"aet", o_.server.aet},
                          {"port", o_.server.port},
                          {"forward", o_.forward.text()},
                          {"model", denoiser_.model_path()},
                          {"work", work_.root().string()},
                          {"quiet_seconds", o_.quiet_seconds}});
    std::thread assembler([this] { assemble_loop(); });
    std::thread worker([this] { work_loop(); });
    io::StoreServerHooks hooks;
    hooks.store = [this](const io::StoreRequest& r, const io::SaveInstance& save) { return store(r, save); };
    hooks.event = [this](const io::AssociationEvent& e) { association_event(e); };
    hooks.stop = [this] { return stopping(); };
    std::exception_ptr failure;
    try {
      io::run_store_server(o_.server, hooks);
    } catch (...) {
      failure = std::current_exception();
    }
    stopping_ = true;
    wake_.notify_all();
    assembler.join();
    worker.join();
    if (failure) std::rethrow_exception(failure);
    log_("node_stopped");
  }

 private:
  bool stopping() {
    if (!stopping_ && stop_ && stop_()) stopping_ = true;
    return stopping_;
  }

  void resume() {
    json counts = json::object();
    for (State state : detail::kAllStates) counts[detail::state_name(state)] = work_.keys(state).size();
    for (const auto& key : work_.keys(State::Received)) {
      const json state = work_.read_state(State::Received, key);
      Receiving r;
      r.series_uid = state.value("series_uid", key);
      r.calling_aet = state.value("calling_aet", "");
      r.expected = state.value("expected_instances", int64_t{0});
      for (const auto& f : fs::directory_iterator(work_.series(State::Received, key) / "instances"))
        if (f.path().extension() == ".dcm") ++r.instances;
      // The quiet time starts again: a sender cut off by the restart gets the time to resend.
      r.last = Clock::now();
      r.last_epoch = state.value("last_received", detail::epoch_seconds());
      receiving_[key] = r;
    }
    log_("queue_resumed", {{"series", counts}});
    publish_status();
  }

  io::StoreStatus refuse(const io::StoreRequest& r, io::StoreStatus status, const std::string& reason) {
    log_("instance_refused", {{"calling_aet", r.calling_aet},
                              {"association", r.association},
                              {"sop_class_uid", r.sop_class_uid},
                              {"sop_instance_uid", r.sop_instance_uid},
                              {"series_uid", r.series_uid},
                              {"status", static_cast<int>(status)},
                              {"reason", reason}});
    return status;
  }

  io::StoreStatus store(const io::StoreRequest& r, const io::SaveInstance& save) {
    if (r.sop_class_uid != kPetImageStorage)
      return refuse(r, io::StoreStatus::SopClassNotSupported,
                    "SOP class " + r.sop_class_uid + " is not PET Image Storage (" + kPetImageStorage + ")");
    if (!r.problem.empty()) return refuse(r, io::StoreStatus::DataSetDoesNotMatchSopClass, r.problem);
    if (r.modality != "PT")
      return refuse(r, io::StoreStatus::DataSetDoesNotMatchSopClass, "Modality is '" + r.modality + "', not PT");
    std::lock_guard<std::mutex> lock(mutex_);
    for (const auto& key : work_.keys_of(r.series_uid)) {
      const auto state = work_.find(key);
      if (!state || !fs::exists(work_.series(*state, key) / "instances" / (r.sop_instance_uid + ".dcm"))) continue;
      auto it = receiving_.find(key);
      if (it != receiving_.end()) touch(it->second, r);
      log_("instance_duplicate", {{"series", key},
                                  {"state", detail::state_name(*state)},
                                  {"sop_instance_uid", r.sop_instance_uid},
                                  {"calling_aet", r.calling_aet},
                                  {"association", r.association}});
      return io::StoreStatus::Success;
    }
    auto it = std::find_if(receiving_.begin(), receiving_.end(),
                           [&](const auto& entry) { return entry.second.series_uid == r.series_uid; });
    try {
      if (it == receiving_.end()) it = start_series(r);
      const fs::path instances = work_.series(State::Received, it->first) / "instances";
      const fs::path tmp = instances / (".tmp-" + r.sop_instance_uid + ".dcm");
      try {
        save(tmp.string());
        fsync_path(tmp, false);
        detail::rename_durably(tmp, instances / (r.sop_instance_uid + ".dcm"));
      } catch (...) {
        std::error_code ec;
        fs::remove(tmp, ec);
        throw;
      }
    } catch (const std::exception& e) {
      return refuse(r, io::StoreStatus::OutOfResources, std::string("cannot store: ") + e.what());
    }
    Receiving& series = it->second;
    ++series.instances;
    series.expected = std::max(series.expected, r.expected_instances);
    touch(series, r);
    log_("instance_stored", {{"series", it->first},
                             {"sop_instance_uid", r.sop_instance_uid},
                             {"instances", series.instances},
                             {"expected", series.expected},
                             {"calling_aet", r.calling_aet},
                             {"association", r.association}});
    return io::StoreStatus::Success;
  }

  static void touch(Receiving& series, const io::StoreRequest& r) {
    series.last = Clock::now();
    series.last_epoch = detail::epoch_seconds();
    series.associations.insert(r.association);
  }

  std::map<std::string, Receiving>::iterator start_series(const io::StoreRequest& r) {
    const std::string key = work_.new_key(r.series_uid);
    const double now = detail::epoch_seconds();
    work_.create(key, {{"series_uid", r.series_uid},
                       {"state", "received"},
                       {"calling_aet", r.calling_aet},
                       {"expected_instances", r.expected_instances},
                       {"created_at", now},
                       {"received_at", detail::utc_text(now)}});
    Receiving series;
    series.series_uid = r.series_uid;
    series.calling_aet = r.calling_aet;
    log_("series_started", {{"series", key},
                            {"series_uid", r.series_uid},
                            {"calling_aet", r.calling_aet},
                            {"late", key != r.series_uid}});
    return receiving_.emplace(key, series).first;
  }

  void association_event(const io::AssociationEvent& e) {
    static const char* names[] = {"association_accepted", "association_rejected", "association_released",
                                  "association_aborted"};
    json fields = {{"association", e.association}, {"calling_aet", e.calling_aet}, {"peer", e.peer_ip}};
    if (!e.reason.empty()) fields["reason"] = e.reason;
    log_(names[static_cast<int>(e.kind)], fields);
    if (e.kind != io::AssociationEvent::Kind::Released) return;
    // A sender that released its association normally after the whole series is done with it.
    std::lock_guard<std::mutex> lock(mutex_);
    std::vector<std::string> complete;
    for (const auto& [key, series] : receiving_)
      if (series.associations.count(e.association) && series.expected > 0 && series.instances >= series.expected)
        complete.push_back(key);
    for (const auto& key : complete) queue(key, "all NumberOfSlices instances received, association released");
  }

  // Under mutex_.
  void queue(const std::string& key, const std::string& why) {
    const Receiving series = receiving_.at(key);
    try {
      work_.move(key, State::Received, State::Queued,
                 {{"queued_at", detail::utc_now()},
                  {"instances", series.instances},
                  {"last_received", series.last_epoch},
                  {"last_received_at", detail::utc_text(series.last_epoch)}});
    } catch (const std::exception& e) {
      log_("node_error", {{"series", key}, {"error", e.what()}});
      return;
    }
    receiving_.erase(key);
    log_("series_queued", {{"series", key}, {"instances", series.instances}, {"why", why}});
    publish_status();
    wake_.notify_all();
  }

  void assemble_loop() {
    while (!stopping()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
      std::lock_guard<std::mutex> lock(mutex_);
      const auto now = Clock::now();
      std::vector<std::string> quiet;
      for (const auto& [key, series] : receiving_)
        if (std::chrono::duration<double>(now - series.last).count() >= o_.quiet_seconds) quiet.push_back(key);
      for (const auto& key : quiet) queue(key, "no instance for --quiet-seconds");
    }
  }

  void work_loop() {
    while (!stopping()) {
      bool worked = false;
      try {
        worked = work_once();
      } catch (const Stopped&) {
        break;
      } catch (const std::exception& e) {
        // A file system failure (disk full): logged, and tried again later.
        log_("node_error", {{"error", error_text(e)}});
      }
      if (!worked) {
        std::unique_lock<std::mutex> lock(wake_mutex_);
        wake_.wait_for(lock, std::chrono::milliseconds(worked ? 0 : 250));
      }
    }
  }

  bool work_once() {
    std::string key;
    State state = State::Queued;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      const double now = detail::epoch_seconds();
      for (const auto& k : work_.keys(State::Sending))
        if (work_.read_state(State::Sending, k).value("next_attempt", 0.0) <= now) {
          key = k;
          state = State::Sending;
          break;
        }
      if (key.empty()) {
        const auto running = work_.keys(State::Running);
        if (!running.empty()) {
          key = running.front();
          state = State::Running;
        }
      }
      if (key.empty()) {
        const auto queued = work_.keys(State::Queued);
        if (queued.empty()) return false;
        key = queued.front();
        work_.move(key, State::Queued, State::Running, {{"started_at", detail::utc_now()}});
        state = State::Running;
      }
    }
    publish_status();
    if (state == State::Sending)
      send(key);
    else
      denoise(key);
    return true;
  }

  void move(const std::string& key, State from, State to, const json& changes) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      work_.move(key, from, to, changes);
    }
    publish_status();
  }

  void dead_letter(const std::string& key, State from, const std::string& reason) {
    move(key, from, State::DeadLetter, {{"failed_at", detail::utc_now()}, {"error", reason}});
    write_file_atomically((work_.series(State::DeadLetter, key) / "REASON.txt").string(), reason + "\n");
    log_("series_dead_letter", {{"series", key}, {"reason", reason}});
  }

  void denoise(const std::string& key) {
    const fs::path dir = work_.series(State::Running, key);
    if (!fs::exists(dir / "derived")) {
      log_("denoise_started", {{"series", key}});
      infer::StudyOptions study = o_.study;
      study.series_uid = work_.read_state(State::Running, key).value("series_uid", "");
      study.progress = [this](int64_t, int64_t) {
        if (stopping()) throw Stopped();
      };
      try {
        const auto report = infer::denoise_study(denoiser_, (dir / "instances").string(), (dir / "derived").string(), study);
        log_("denoised", {{"series", key}, {"summary", report.summary()}, {"seconds", report.seconds}});
      } catch (const Stopped&) {
        log_("denoise_interrupted", {{"series", key}});
        throw;
      } catch (const std::exception& e) {
        dead_letter(key, State::Running, "denoise failed: " + error_text(e));
        return;
      }
    }
    move(key, State::Running, State::Sending,
         {{"derived_at", detail::utc_now()}, {"attempts", 0}, {"next_attempt", 0.0}});
  }

  void send(const std::string& key) {
    const fs::path dir = work_.series(State::Sending, key);
    const fs::path confirmed_list = dir / "confirmed.txt";
    const auto files = derived_files(dir / "derived");
    auto confirmed = read_lines(confirmed_list);
    std::vector<std::string> pending;
    for (const auto& f : files)
      if (!confirmed.count(fs::path(f).filename().string())) pending.push_back(f);
    log_("send_started", {{"series", key},
                          {"to", o_.forward.text()},
                          {"files", files.size()},
                          {"already_confirmed", files.size() - pending.size()}});
    const auto result = io::send_dicom_files(
        o_.forward, o_.server.aet, pending,
        [&](const std::string& file) { detail::append_line_durably(confirmed_list, fs::path(file).filename().string()); },
        [this] { return stopping(); }, o_.send_timeout_s);
    confirmed = read_lines(confirmed_list);
    const bool all = std::all_of(files.begin(), files.end(),
                                 [&](const std::string& f) { return confirmed.count(fs::path(f).filename().string()); });
    json state = work_.read_state(State::Sending, key);
    if (all) {
      const double latency = detail::epoch_seconds() - state.value("last_received", detail::epoch_seconds());
      move(key, State::Sending, State::Sent, {{"sent_at", detail::utc_now()}, {"seconds_after_last_instance", latency}});
      log_("series_sent", {{"series", key},
                           {"to", o_.forward.text()},
                           {"files", files.size()},
                           {"seconds_after_last_instance", latency}});
      return;
    }
    if (stopping()) throw Stopped();
    const int attempts = state.value("attempts", 0) + 1;
    const std::string error = result.error.empty() ? "the receiver did not confirm every instance" : result.error;
    if (attempts >= o_.max_attempts) {
      dead_letter(key, State::Sending,
                  "sending to " + o_.forward.text() + " failed " + std::to_string(attempts) + " times; last: " + error);
      return;
    }
    const double wait = std::min(3600.0, o_.retry_seconds * std::pow(2.0, attempts - 1));
    state["attempts"] = attempts;
    state["error"] = error;
    state["next_attempt"] = detail::epoch_seconds() + wait;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      work_.write_state(State::Sending, key, state);
    }
    publish_status();
    log_("send_failed", {{"series", key}, {"attempt", attempts}, {"retry_in_seconds", wait}, {"error", error}});
  }

  void publish_status() {
    std::lock_guard<std::mutex> lock(status_mutex_);
    try {
      write_file_atomically((work_.root() / "status.json").string(), status_json(read_status(work_.root().string())));
    } catch (const std::exception& e) {
      log_("node_error", {{"error", std::string("status.json: ") + e.what()}});
    }
  }

  const NodeOptions& o_;
  EventLog log_;
  std::function<bool()> stop_;
  std::atomic<bool> stopping_{false};
  // The denoiser first: a bad model or tiling option is refused before the queue folder exists.
  infer::Denoiser denoiser_;
  detail::WorkFolder work_;
  std::mutex mutex_;  ///< receiving_ and every move between state folders
  std::map<std::string, Receiving> receiving_;
  std::mutex status_mutex_, wake_mutex_;
  std::condition_variable wake_;
};

}  // namespace

void check_node_options(const NodeOptions& o) {
  io::check_ae_title(o.server.aet, "--aet");
  UNIPET_CHECK(o.server.port >= 1 && o.server.port <= 65535, "--port must be 1..65535, got " << o.server.port);
  for (const auto& aet : o.server.accepted_calling_aets) io::check_ae_title(aet, "--accept-aet");
  io::check_ae_title(o.forward.aet, "--forward");
  UNIPET_CHECK(!o.forward.host.empty(), "--forward: no host in " << o.forward.text());
  UNIPET_CHECK(!o.work.empty(), "--work: a folder is needed for the queue");
  UNIPET_CHECK(std::isfinite(o.quiet_seconds) && o.quiet_seconds > 0,
               "--quiet-seconds must be > 0, got " << o.quiet_seconds);
  UNIPET_CHECK(o.max_attempts >= 1, "--max-attempts must be >= 1, got " << o.max_attempts);
  UNIPET_CHECK(std::isfinite(o.retry_seconds) && o.retry_seconds >= 0,
               "--retry-seconds must be >= 0, got " << o.retry_seconds);
  UNIPET_CHECK(o.send_timeout_s >= 1, "--send-timeout must be >= 1 s, got " << o.send_timeout_s);
}

void serve(const NodeOptions& options, std::ostream& log, const std::function<bool()>& stop) {
  check_node_options(options);
  Node node(options, log, stop);
  node.run();
}

}  // namespace unipet::node
