#pragma once
/// A DICOM node: receives PET series, denoises each with a UniPET model and sends the derived
/// series on, losing nothing (what `unipet serve` runs).
///
///   unipet::node::NodeOptions o;
///   o.forward = unipet::io::parse_dicom_peer("PACS@10.0.0.5:104");
///   o.work = "/var/lib/unipet";
///   unipet::node::serve(o, std::cout, [] { return stop_requested; });
///   for (const auto& s : unipet::node::read_status("/var/lib/unipet")) std::cout << s.state;
///
/// The work folder is the queue. Each series is a folder that moves, by atomic rename followed by
/// fsync, through received/ -> queued/ -> running/ -> sending/ -> sent/ (or dead-letter/):
///   KEY/instances/SOPINSTANCEUID.dcm  every instance received, fsynced before C-STORE success
///   KEY/derived/IM00001.dcm ...       the denoised series (written atomically by the denoiser)
///   KEY/confirmed.txt                 derived files the receiver confirmed, one per line, fsynced
///   KEY/state.json                    times, instance count, send attempts, the last error
/// KEY is the SeriesInstanceUID (with _2, _3 ... for instances arriving after their series was
/// queued). A node killed at any moment resumes from these folders: a series in received/ waits
/// for its senders again, one in running/ is denoised again unless derived/ is complete, one in
/// sending/ sends only what the receiver has not confirmed. status.json in the work folder lists
/// every series and is rewritten (atomically) at every change of state. Every event is one JSON
/// line on the log stream.
#include <functional>
#include <iosfwd>
#include <string>
#include <vector>

#include "unipet/infer/studies.h"
#include "unipet/io/dicom_network.h"

namespace unipet::node {

struct NodeOptions {
  /// AE title (--aet), port (--port) and accepted calling AE titles (--accept-aet, empty: any).
  io::StoreServerOptions server;
  io::DicomPeer forward;  ///< where derived series are sent (--forward AET@host:port)
  std::string work;       ///< the queue folder (--work); created when missing
  std::string model;      ///< UniPET model file; "" for the shipped default model
  /// A series is complete when no instance arrived for this long (seconds), or at the normal end
  /// of an association after which it holds NumberOfSlices instances.
  double quiet_seconds = 30;
  int max_attempts = 5;        ///< failed sends before a series goes to dead-letter/
  double retry_seconds = 30;   ///< wait after the first failed send; doubled after each, at most 1 h
  int send_timeout_s = 30;     ///< network timeout of each send
  infer::DenoiseOptions denoise;
  /// How each series is written (labels and provenance of the derived series).
  infer::StudyOptions study;
};

/// Throws unipet::Error naming the option (--aet, --port, --quiet-seconds, ...) that is wrong.
void check_node_options(const NodeOptions& options);

/// Loads the model, opens the work folder (refused when another node holds it), resumes its
/// queue, listens on options.server.port and runs until `stop()` returns true (polled about
/// once a second; a denoise or send in progress is interrupted and resumed at the next start).
/// Writes one JSON line per event to `log`. Throws unipet::Error for a bad option, model, work
/// folder or port.
void serve(const NodeOptions& options, std::ostream& log, const std::function<bool()>& stop);

/// One series of a work folder.
struct SeriesStatus {
  std::string state;  ///< received, queued, running, sending, sent, dead-letter
  std::string key, series_uid, calling_aet;
  int64_t instances = 0;
  std::string received_at, queued_at, sent_at, failed_at;  ///< UTC, "" when not (yet)
  std::string updated_at;                                 ///< last change of state
  int attempts = 0;        ///< failed sends so far
  std::string next_attempt_at;
  std::string error;       ///< last failure, or the dead-letter reason
};

/// Every series in the work folder `work`, oldest first. Readable while a node runs. Throws
/// unipet::Error naming `work` when it is not a node's work folder.
std::vector<SeriesStatus> read_status(const std::string& work);

/// A table, one line per series, with a count per state at the end.
std::string format_status(const std::vector<SeriesStatus>& series);

/// The same as JSON ({"series": [...], "counts": {...}}), as status.json holds it.
std::string status_json(const std::vector<SeriesStatus>& series);

}  // namespace unipet::node
