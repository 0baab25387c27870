#include <csignal>
#include <iostream>
#include <memory>
#include <optional>

#include "commands.h"
#include "unipet/core/device.h"
#include "unipet/core/error.h"
#include "unipet/node/node.h"

namespace unipet::cli {

namespace {

volatile std::sig_atomic_t g_stop_signal = 0;

extern "C" void request_serve_stop(int) { g_stop_signal = 1; }

struct ServeCliOptions {
  node::NodeOptions node;
  std::string forward, status;
  bool status_json = false;
};

void run_serve(ServeCliOptions o) {
  if (!o.status.empty()) {
    const auto series = node::read_status(o.status);
    std::cout << (o.status_json ? node::status_json(series) + "\n" : node::format_status(series));
    return;
  }
  UNIPET_CHECK(!o.forward.empty(), "--forward is required (AET@host:port of the receiver of derived series)");
  UNIPET_CHECK(!o.node.work.empty(), "--work is required (the folder that holds the queue)");
  o.node.forward = io::parse_dicom_peer(o.forward, "--forward");
  node::check_node_options(o.node);
  apply_compute(o.node.denoise.compute);
  // SIGTERM and SIGINT stop the node; a denoise or send in progress resumes at the next start.
  std::signal(SIGTERM, request_serve_stop);
  std::signal(SIGINT, request_serve_stop);
  std::signal(SIGPIPE, SIG_IGN);
  node::serve(o.node, std::cout, [] { return g_stop_signal != 0; });
}

}  // namespace

void setup_serve(CLI::App& app, int argc, char** argv) {
  auto o = std::make_shared<ServeCliOptions>();
  o->node.study.dicom.provenance.command_line = command_line(argc, argv);
  o->node.study.dicom.series_description = "unipet denoised";
  auto* cmd = app.add_subcommand(
      "serve",
      "Run a DICOM node: receive PET series (C-STORE), denoise each with a UniPET model and send the derived "
      "series to --forward, with a crash-safe queue in --work. Logs one JSON line per event on stdout; "
      "SIGTERM or SIGINT stops it. With --status DIR, print the queue of a node's work folder instead.");
  cmd->add_option("--aet", o->node.server.aet, "AE title of the node (the called AE title senders use)")
      ->capture_default_str();
  cmd->add_option("--port", o->node.server.port, "TCP port to listen on")->capture_default_str();
  cmd->add_option("--forward", o->forward, "Where derived series go: AET@host:port (e.g. PACS@10.0.0.5:104)");
  cmd->add_option("--work", o->node.work, "Folder of the queue (created when missing; one node per folder)");
  cmd->add_option("-m,--model", o->node.model,
                  "UniPET model file (.safetensors; default: the shipped model, models/unipet-default.safetensors)");
  cmd->add_option("--accept-aet", o->node.server.accepted_calling_aets,
                  "Calling AE titles accepted, comma-separated (default: any); others are rejected at association")
      ->delimiter(',');
  cmd->add_option("--quiet-seconds", o->node.quiet_seconds,
                  "A series is complete when no instance arrived for this long (or when a sender releases its "
                  "association after all NumberOfSlices instances)")
      ->capture_default_str();
  cmd->add_option("--max-attempts", o->node.max_attempts,
                  "Failed sends of a series before it moves to dead-letter/")
      ->capture_default_str();
  cmd->add_option("--retry-seconds", o->node.retry_seconds,
                  "Wait after the first failed send, doubled after each further failure (at most 1 hour)")
      ->capture_default_str();
  cmd->add_option("--send-timeout", o->node.send_timeout_s, "Network timeout of a send, seconds")
      ->capture_default_str();
  add_compute_options(cmd, o->node.denoise.compute);
  add_tiling_options(cmd, o->node.denoise.window);
  cmd->add_option("--series-description", o->node.study.dicom.series_description,
                  "SeriesDescription of the derived series")
      ->capture_default_str();
  cmd->add_option("--status", o->status,
                  "Print the series in this node work folder (received, queued, running, sending, sent, "
                  "dead-letter) with their times, and exit");
  cmd->add_flag("--json", o->status_json, "With --status: print it as JSON (the same as DIR/status.json)");
  cmd->callback([o] { run_serve(*o); });
}

}  // namespace unipet::cli
