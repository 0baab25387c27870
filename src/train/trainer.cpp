#include "unipet/train/trainer.h"

#include <chrono>
#include <filesystem>
#include <iomanip>
#include <optional>
#include <sstream>

#include <nlohmann/json.hpp>

#include "run_log.h"
#include "run_start.h"
#include "steps.h"
#include "unipet/core/atomic_file.h"
#include "unipet/core/device.h"
#include "unipet/core/error.h"
#include "unipet/core/progress.h"
#include "unipet/io/dataset.h"
#include "unipet/nn/memory.h"
#include "unipet/nn/model_file.h"
#include "unipet/train/checkpoint.h"
#include "unipet/train/sampler.h"

namespace unipet::train {
namespace {

namespace fs = std::filesystem;

// The files a new run writes before its first step (config.json, log.jsonl): removed when the
// run fails before that step, unless keep() was called.
class NewRunFiles {
 public:
  NewRunFiles(fs::path run, bool active) : run_(std::move(run)), active_(active) {}
  ~NewRunFiles() {
    if (!active_) return;
    std::error_code ec;
    fs::remove(run_ / "config.json", ec);
    fs::remove(run_ / "log.jsonl", ec);
  }
  NewRunFiles(const NewRunFiles&) = delete;
  NewRunFiles& operator=(const NewRunFiles&) = delete;
  void keep() { active_ = false; }

 private:
  fs::path run_;
  bool active_;
};

using detail::Networks;
using nlohmann::json;

// Everything that can fail on bad input, checked before the first file is written: the run
// folder (one to continue, or a new or empty one apart from the inputs), the critic stage's
// generator, and on the CPU the memory of a step (batch=1000 is inside the accepted range and
// was killed by the kernel).
void check_before_writing(const TrainOptions& o, bool writer) {
  const TrainConfig& c = o.config;
  const fs::path run(o.out);
  if (writer && o.resume) {
    UNIPET_CHECK(
        fs::is_regular_file(run / "config.json"),
        o.out << ": not a run folder to continue (no config.json); leave out --continue to start one");
    detail::check_same_network((run / "config.json").string(), c);
  } else if (writer && fs::is_directory(run.parent_path().empty() ? fs::path(".") : run.parent_path())) {
    // A run folder whose parent is missing is new by definition; CreatedFolder makes both.
    check_output_path(run, {OutputKind::Folder, {o.dataset, c.init, c.init_critic}});
  }
  UNIPET_CHECK(c.stage != Stage::Critic || !c.init.empty(),
               "--init: the disc stage trains a critic against a trained generator; give its model file");
  if (o.device.is_cpu()) {
    std::ostringstream what;
    what << "--set batch=" << c.batch << " / patch=" << c.patch << " / width=" << c.width << ": a training step";
    check_fits_in_memory(nn::training_bytes(c.width, c.batch * c.patch * c.patch * c.patch, c.stage == Stage::UniPET,
                                            o.bf16 ? torch::kBFloat16 : torch::kFloat32),
                         what.str());
  }
}

// The state a run starts from: its latest checkpoint when continued, else the step-0 state with
// the --init and --init-critic weights loaded. Every rank then takes rank 0's weights, optimizer
// moments and step, whatever it started from (an --init, a checkpoint of any world size, or the
// seed): one message, the checkpoint.
CheckpointState start_state(const TrainOptions& o, Networks& n, const CheckpointParts& parts,
                            const fs::path& latest, bool writer) {
  const TrainConfig& c = o.config;
  CheckpointState state;
  state.config_json = to_json(c);
  const auto take = [&](const CheckpointState& saved) {
    state.step = saved.step;
    state.best_score = saved.best_score;
    state.best_step = saved.best_step;
  };
  if (writer && o.resume && fs::exists(latest)) {
    const CheckpointState saved = load_checkpoint(latest.string(), parts, o.device);
    take(saved);
    // ema set on a run continued from a checkpoint without an average: it starts here.
    if (!saved.average_loaded) detail::reset_average(n);
  } else if (writer) {
    if (!c.init.empty()) detail::load_init(n, c, c.init, o.device);
    if (!c.init_critic.empty()) detail::load_init_critic(n, c, o.device);
    detail::reset_average(n);
  }
  if (ProcessGroup* group = o.group.get()) {
    const std::string bytes = group->broadcast_bytes(writer ? checkpoint_bytes(parts, state) : std::string());
    if (!writer) take(load_checkpoint_bytes(bytes, "rank 0's training state", parts, o.device));
  }
  UNIPET_CHECK(state.step <= c.iterations, o.out << ": the run is at step " << state.step
                                                 << ", past iterations " << c.iterations
                                                 << " (raise it with --set iterations=N)");
  return state;
}

// One training step on `batch`: the critic's c.critic_steps updates in the disc stage, else the
// generator's (whose unipet stage updates the critic too, on the same forward pass), followed by
// the update of the generator's moving average.
detail::StepLosses run_step(Networks& n, const TrainConfig& c, const Batch& batch) {
  if (c.stage != Stage::Critic) {
    detail::StepLosses losses = detail::generator_step(n, c, batch);
    detail::update_average(n, c.ema);
    return losses;
  }
  detail::StepLosses losses;
  int64_t reduced_bytes = 0;
  double reduce_seconds = 0;
  for (int64_t r = 0; r < c.critic_steps; ++r) {
    losses = detail::critic_step(n, c, batch, r);
    reduced_bytes += losses.reduced_bytes;
    reduce_seconds += losses.reduce_seconds;
  }
  losses.reduced_bytes = reduced_bytes;
  losses.reduce_seconds = reduce_seconds;
  return losses;
}

// Seconds per phase of a step summed since the last log line, and the steps they cover.
struct PhaseTimes {
  std::map<std::string, double> seconds;
  int64_t steps = 0;
};

// The log line of a step: its losses (the global batch's, the mean over the ranks' equal-sized
// batches, in a distributed run), rate, learning rate and where the time went since the last
// line (`times` is then cleared). `status` receives the losses for the progress line.
json step_entry(const TrainConfig& c, detail::StepLosses& losses, ProcessGroup* group, int64_t step,
                double seconds, double rate, PhaseTimes& times, std::string& status) {
  if (group) {
    std::vector<double> values;
    for (const auto& entry : losses.values) values.push_back(entry.second);
    group->all_reduce(values);
    size_t i = 0;
    for (auto& entry : losses.values) entry.second = values[i++] / static_cast<double>(group->world_size());
  }
  json entry = {{"step", step}, {"stage", to_string(c.stage)}, {"seconds", seconds},
                {"it_per_s", rate}, {"grad_norm", losses.grad_norm}};
  entry["lr"] = c.stage == Stage::Critic ? c.lr_critic : c.lr;
  if (c.stage != Stage::Critic) {
    json phases = json::object();
    for (const auto& [phase, t] : times.seconds) phases[phase] = t / static_cast<double>(times.steps);
    entry["step_seconds"] = phases;
  }
  times = PhaseTimes();
  if (group) {
    entry["allreduce_bytes"] = losses.reduced_bytes;
    entry["allreduce_seconds"] = losses.reduce_seconds;
  }
  std::ostringstream text;
  text << std::setprecision(4);
  for (const auto& [k, v] : losses.values) {
    entry[k] = v;
    if (k != "stylized_fraction") text << k << " " << v << "  ";
  }
  status = text.str();
  return entry;
}

// FNV-1a over the bytes of every parameter: equal on two ranks exactly when their weights are.
std::string weights_fingerprint(const Networks& n) {
  uint64_t hash = 0xcbf29ce484222325ULL;
  std::vector<torch::Tensor> params = n.generator->parameters();
  if (n.critic)
    for (const auto& p : n.critic->parameters()) params.push_back(p);
  for (const auto& p : params) {
    const torch::Tensor t = p.detach().to(torch::kCPU).contiguous();
    const auto* bytes = static_cast<const unsigned char*>(t.data_ptr());
    for (size_t i = 0; i < t.nbytes(); ++i) hash = (hash ^ bytes[i]) * 0x100000001b3ULL;
  }
  std::ostringstream text;
  text << std::hex << std::setw(16) << std::setfill('0') << hash;
  return text.str();
}

// What one step sends: the gradients of every optimizer, in all_reduce_mean's buckets.
std::string all_reduce_plan(const Networks& n, const TrainConfig& c) {
  int64_t buckets = 0, bytes = 0;
  const auto add = [&](const std::vector<torch::Tensor>& params, int64_t times) {
    buckets += times * static_cast<int64_t>(plan_buckets(params, kDefaultBucketBytes).size());
    for (const auto& p : params) bytes += times * p.numel() * static_cast<int64_t>(p.element_size());
  };
  if (n.generator_optimizer) add(detail::optimized_parameters(*n.generator_optimizer), 1);
  if (n.critic_optimizer) add(detail::optimized_parameters(*n.critic_optimizer), c.critic_steps);
  std::ostringstream text;
  text << std::fixed << std::setprecision(2) << "all-reduce: " << buckets << " bucket" << (buckets == 1 ? "" : "s")
       << ", " << static_cast<double>(bytes) / 1e6 << " MB of gradients per step";
  return text.str();
}

// A stop request (a signal to any rank) ends the run on every rank after the same step.
bool stop_requested(const TrainOptions& o) {
  std::vector<double> stop{o.should_stop && o.should_stop() ? 1.0 : 0.0};
  if (o.group) o.group->all_reduce(stop, true);
  return stop[0] > 0;
}

// The progress line a distributed run starts with: its ranks, backend, batch and traffic.
std::string distributed_line(const Networks& n, const TrainConfig& c, ProcessGroup& group) {
  return "distributed: " + std::to_string(group.world_size()) + " ranks (" + group.backend() + "), batch " +
         std::to_string(c.batch) + " per rank; " + all_reduce_plan(n, c);
}

// The run folder's files. Rank 0 alone writes them (`writer`); on the other ranks every call
// does nothing.
class RunFolder {
 public:
  RunFolder(const TrainOptions& o, const io::Dataset& dataset, bool writer)
      : config_(o.config), path_(o.out), writer_(writer), normalization_(o.config.normalization()) {
    origin_ = {o.command, fs::absolute(o.dataset).lexically_normal().string(), dataset.name, {}};
    if (auto seed = dataset.numbers.find("seed"); seed != dataset.numbers.end()) origin_.dataset_seed = seed->second;
  }
  fs::path latest() const { return path_ / "checkpoint_latest.pt"; }
  // config.json written, log.jsonl cut back to `step` (a resumed run repeats nothing) and opened.
  void open(int64_t step) {
    if (!writer_) return;
    write_file_atomically((path_ / "config.json").string(), to_json(config_));
    detail::trim_log(path_ / "log.jsonl", step);
    log_.emplace(path_ / "log.jsonl");
  }
  void log(const json& entry) {
    if (log_) log_->write(entry);
  }
  void save_latest(const CheckpointParts& parts, const CheckpointState& state) const {
    if (writer_) save_checkpoint(latest().string(), parts, state);
  }
  void save_best(Networks& n, const CheckpointParts& parts, const CheckpointState& state) const {
    if (!writer_) return;
    nn::save_unipet((path_ / "model_best.safetensors").string(), detail::model_of(n), normalization_,
                    detail::provenance(config_, state.step, origin_));
    save_checkpoint((path_ / "checkpoint_best.pt").string(), parts, state);
  }
  void save_final(Networks& n, int64_t step) const {
    if (!writer_) return;
    if (config_.stage != Stage::Critic)
      nn::save_unipet((path_ / "model_final.safetensors").string(), detail::model_of(n), normalization_,
                      detail::provenance(config_, step, origin_));
    if (n.critic)
      nn::save_discriminator((path_ / "critic_final.safetensors").string(), n.critic,
                             detail::provenance(config_, step, origin_));
  }

 private:
  const TrainConfig& config_;
  fs::path path_;
  bool writer_;
  nn::IntensityNormalization normalization_;
  detail::Provenance origin_;
  std::optional<detail::Log> log_;
};

// The validation crops and the untouched input's scores on them, against which every
// validation is reported; off when the run does not validate (validate_every 0, disc stage).
struct Validation {
  bool on = false;
  std::vector<ValidationCrop> crops;
  detail::ValidationScores input;
};

// Scores the generator on the validation crops at `state.step`, logs and reports it, and keeps
// the best model and checkpoint so far.
void validate_step(Networks& n, const TrainConfig& c, const Validation& v, const CheckpointParts& parts,
                   CheckpointState& state, double seconds, RunFolder& folder, Progress& progress,
                   TrainResult& result) {
  const detail::ValidationScores s = detail::validate(n, c, v.crops, false);
  result.last_score = s.mean_psnr;
  json entry = detail::scores_json(s);
  entry["step"] = state.step;
  entry["seconds"] = seconds;
  entry["input"] = detail::scores_json(v.input);
  folder.log(json{{"step", state.step}, {"validation", entry}});
  progress.message("step " + std::to_string(state.step) + " validation: " + detail::scores_text(s, v.input));
  if (s.mean_psnr > state.best_score) {
    state.best_score = s.mean_psnr;
    state.best_step = state.step;
    folder.save_best(n, parts, state);
  }
}

}  // namespace

TrainResult train(const TrainOptions& o, const VolumeReader& read_volume) {
  const TrainConfig& c = o.config;
  c.validate();
  UNIPET_CHECK(!o.out.empty(), "--out: a run folder is required");
  ProcessGroup* const group = o.group.get();
  const int64_t rank = group ? group->rank() : 0;
  // Rank 0 alone reads and writes the run folder (the others need not even see it).
  const bool writer = rank == 0;
  const io::Dataset dataset = io::read_dataset(o.dataset);
  check_before_writing(o, writer);
  PatchSampler sampler(dataset, c, rank, read_volume);
  Validation validation;
  validation.on = c.validate_every > 0 && c.stage != Stage::Critic;
  if (validation.on) validation.crops = validation_crops(dataset, c, sampler.cache());
  Networks n = detail::build_networks(c, o.device, o.bf16);
  n.group = group;
  CheckpointParts parts{n.generator, n.critic, n.generator_optimizer.get(), n.critic_optimizer.get(), n.average};
  RunFolder folder(o, dataset, writer);
  CheckpointState state = start_state(o, n, parts, folder.latest(), writer);

  // A new run that fails before its first step leaves nothing behind (declared in this order: the
  // files go first, then the folder if this run made it): its rerun is not "folder not empty".
  std::optional<CreatedFolder> created;
  NewRunFiles new_run(o.out, writer && !o.resume);
  if (writer) created.emplace(o.out);
  folder.open(state.step);

  TrainResult result;
  if (validation.on) {
    validation.input = detail::validate(n, c, validation.crops, true);
    result.input_score = validation.input.mean_psnr;
  }
  std::ostream null_stream(nullptr);
  Progress progress(o.progress && writer ? *o.progress : null_stream, to_string(c.stage), c.iterations,
                    state.step);
  if (group) progress.message(distributed_line(n, c, *group));
  const auto started = std::chrono::steady_clock::now();
  const auto seconds = [&] {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  };

  sampler.start(state.step);
  PhaseTimes times;
  while (state.step < c.iterations) {
    const auto waited = std::chrono::steady_clock::now();
    const Batch batch = sampler.next();
    times.seconds["data"] += std::chrono::duration<double>(std::chrono::steady_clock::now() - waited).count();
    detail::StepLosses losses = run_step(n, c, batch);
    for (const auto& [phase, t] : losses.seconds) times.seconds[phase] += t;
    ++times.steps;
    ++state.step;
    if (created) created->keep();
    new_run.keep();
    const bool last = state.step == c.iterations;
    if (state.step % c.log_every == 0 || last) {
      std::string status;
      folder.log(step_entry(c, losses, group, state.step, seconds(), progress.rate(state.step), times, status));
      progress.update(state.step, status);
    }
    if (validation.on && (state.step % c.validate_every == 0 || last))
      validate_step(n, c, validation, parts, state, seconds(), folder, progress, result);
    const bool stop = stop_requested(o);
    if (state.step % c.checkpoint_every == 0 || last || stop) folder.save_latest(parts, state);
    if (stop && !last) {
      result.interrupted = true;
      break;
    }
  }
  progress.finish();
  if (!result.interrupted) folder.save_final(n, state.step);
  result.step = state.step;
  result.best_score = state.best_score;
  result.best_step = state.best_step;
  if (group) {
    result.weights_fingerprint = weights_fingerprint(n);
    // No rank returns (and, with a launcher, exits) before rank 0 has written its files.
    group->barrier();
  }
  return result;
}

}  // namespace unipet::train
