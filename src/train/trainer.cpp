#include "unipet/train/trainer.h"

#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <optional>
#include <sstream>

#include <nlohmann/json.hpp>

#include "steps.h"
#include "unipet/core/atomic_file.h"
#include "unipet/core/build_info.h"
#include "unipet/core/error.h"
#include "unipet/core/progress.h"
#include "unipet/io/dataset.h"
#include "unipet/core/device.h"
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

// Refuses a starting model whose network differs from the configuration's, naming the key.
void check_same_shape(const std::string& source, const TrainConfig& c, int64_t width, int64_t blocks,
                      int64_t san_width, int64_t san_depth) {
  for (auto [key, mine, theirs] : {std::tuple<const char*, int64_t, int64_t>{"width", c.width, width},
                                   {"blocks", c.blocks, blocks},
                                   {"san_width", c.san_width, san_width},
                                   {"san_depth", c.san_depth, san_depth}})
    UNIPET_CHECK(mine == theirs, source << ": " << key << " " << theirs
                                        << " does not match the configuration's " << key << " " << mine);
}

// A starting model trained under another intensity mapping would be fed values it never saw.
// Continuing from another mapping is allowed only on purpose: the configuration names it.
void check_same_normalization(const std::string& source, const nn::IntensityNormalization& theirs,
                              const TrainConfig& c) {
  const nn::IntensityNormalization mine = c.normalization();
  const bool same = theirs.units == Units::SUV && theirs.mapping == mine.mapping &&
                    (mine.mapping == nn::IntensityMapping::Linear ? theirs.clip_max == mine.clip_max
                                                                   : theirs.scale == mine.scale);
  UNIPET_CHECK(same || c.init_any_mapping, source << ": the model's input is " << theirs.describe()
                                                  << ", the configuration's " << mine.describe()
                                                  << " (set intensity, clip_max or intensity_scale to match, or "
                                                     "init_any_mapping=true to fine-tune it into the new mapping)");
}

// A continued run must be the run it continues: a key that changes the network or what its
// values mean would load weights into another shape or feed them other numbers (and a finished
// run's model file would be replaced by one that no longer loads). Checked before anything is
// written.
void check_same_network(const std::string& saved_path, const TrainConfig& c) {
  const TrainConfig saved = load_train_config(saved_path);
  const nn::IntensityNormalization mine = c.normalization(), theirs = saved.normalization();
  const std::vector<std::tuple<const char*, std::string, std::string>> keys = {
      {"stage", to_string(saved.stage), to_string(c.stage)},
      {"width", std::to_string(saved.width), std::to_string(c.width)},
      {"blocks", std::to_string(saved.blocks), std::to_string(c.blocks)},
      {"san_width", std::to_string(saved.san_width), std::to_string(c.san_width)},
      {"san_depth", std::to_string(saved.san_depth), std::to_string(c.san_depth)},
      {"san", saved.san ? "true" : "false", c.san ? "true" : "false"},
      {"critic_ndf", std::to_string(saved.critic_ndf), std::to_string(c.critic_ndf)},
      {"critic_layers", std::to_string(saved.critic_layers), std::to_string(c.critic_layers)},
      {"intensity", theirs.describe(), mine.describe()}};
  for (const auto& [key, before, now] : keys)
    UNIPET_CHECK(before == now, "--set " << key << ": the run being continued has " << before << ", not " << now
                                         << " (" << saved_path << "); start a new run to change it");
}

// Loads the generator (and, from a checkpoint, the critic) that a run starts from, refusing one
// whose shape differs from the configuration.
void load_init(Networks& n, const TrainConfig& c, const std::string& init, torch::Device device) {
  if (is_checkpoint_path(init)) {
    const TrainConfig saved = train_config_from_json(checkpoint_config(init), init);
    check_same_shape(init, c, saved.width, saved.blocks, saved.san_width, saved.san_depth);
    check_same_normalization(init, saved.normalization(), c);
    CheckpointParts parts;
    parts.generator = n.generator;
    // Its critic comes along when both have one of the same shape.
    if (n.critic && saved.critic_ndf == c.critic_ndf && saved.critic_layers == c.critic_layers &&
        (saved.stage == Stage::Critic || (saved.stage == Stage::UniPET && saved.lambda_adv > 0)))
      parts.critic = n.critic;
    load_checkpoint(init, parts, device);
    return;
  }
  nn::LoadedUniPET loaded = nn::load_unipet(init, device);
  const nn::UniPETOptions& o = loaded.model->options;
  check_same_shape(init, c, o.width(), o.blocks(), o.san_width(), o.san_depth());
  check_same_normalization(init, loaded.normalization, c);
  torch::NoGradGuard no_grad;
  const auto source = nn::state_dict(*loaded.model);
  nn::load_state_dict(*n.generator, source, init);
}

// Keeps the log lines of steps up to `step` (a resumed run repeats nothing).
void trim_log(const fs::path& log, int64_t step) {
  if (!fs::exists(log)) return;
  std::ifstream in(log);
  std::string line, kept;
  while (std::getline(in, line)) {
    try {
      const json j = json::parse(line);
      if (j.value("step", int64_t{0}) <= step) kept += line + "\n";
    } catch (const json::exception&) {
      // A line cut by a kill: dropped.
    }
  }
  write_file_atomically(log.string(), kept);
}

class Log {
 public:
  explicit Log(const fs::path& path) : path_(path.string()), out_(path, std::ios::app) {
    UNIPET_CHECK(out_, path_ << ": cannot open the training log");
  }
  void write(const json& entry) {
    out_ << entry.dump() << "\n" << std::flush;
    UNIPET_CHECK(out_, path_ << ": write failed (disk full?)");
  }

 private:
  std::string path_;
  std::ofstream out_;
};

json scores_json(const detail::ValidationScores& s) {
  json psnr = json::object(), ssim = json::object();
  for (const auto& [drf, v] : s.psnr) psnr[io::drf_text(drf)] = v;
  for (const auto& [drf, v] : s.ssim) ssim[io::drf_text(drf)] = v;
  return {{"psnr", psnr}, {"ssim", ssim}, {"psnr_mean", s.mean_psnr}, {"ssim_mean", s.mean_ssim}};
}

std::string scores_text(const detail::ValidationScores& s, const detail::ValidationScores& input) {
  std::ostringstream t;
  t << std::fixed << std::setprecision(2) << "PSNR " << s.mean_psnr << " dB (low dose " << input.mean_psnr
    << "), SSIM " << std::setprecision(4) << s.mean_ssim << std::setprecision(2) << " |";
  for (const auto& [drf, v] : s.psnr) t << " DRF " << io::drf_text(drf) << ": " << v;
  return t.str();
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

// What a model file records of its making, so that it can be reproduced: the configuration, the
// command, the data (its seed regenerates a simulated dataset) and the code.
struct Provenance {
  std::string command, dataset, dataset_name;
  std::optional<double> dataset_seed;
};

std::map<std::string, std::string> provenance(const TrainConfig& c, int64_t step, const Provenance& p) {
  std::map<std::string, std::string> m = {{"unipet.train.stage", to_string(c.stage)},
                                          {"unipet.train.step", std::to_string(step)},
                                          {"unipet.train.config", json::parse(to_json(c)).dump()},
                                          {"unipet.train.dataset", p.dataset},
                                          {"unipet.train.dataset_name", p.dataset_name},
                                          {"unipet.version", version()},
                                          {"unipet.git_commit", git_commit()}};
  if (!p.command.empty()) m["unipet.train.command"] = p.command;
  if (p.dataset_seed) {
    // dataset.json keeps seeds below 2^53, so an integral one is written as the integer it is.
    const double seed = *p.dataset_seed;
    const bool integral = seed >= 0 && seed < 9007199254740992.0 && seed == std::floor(seed);
    m["unipet.train.dataset_seed"] = integral ? std::to_string(static_cast<int64_t>(seed)) : json(seed).dump();
  }
  return m;
}

}  // namespace

TrainResult train(const TrainOptions& o) {
  const TrainConfig& c = o.config;
  c.validate();
  UNIPET_CHECK(!o.out.empty(), "--out: a run folder is required");
  ProcessGroup* const group = o.group.get();
  const int64_t rank = group ? group->rank() : 0;
  // Rank 0 alone reads and writes the run folder (the others need not even see it).
  const bool writer = rank == 0;
  const fs::path run(o.out);
  const io::Dataset dataset = io::read_dataset(o.dataset);
  Provenance origin{o.command, fs::absolute(o.dataset).lexically_normal().string(), dataset.name, {}};
  if (auto seed = dataset.numbers.find("seed"); seed != dataset.numbers.end()) origin.dataset_seed = seed->second;
  if (writer && o.resume) {
    UNIPET_CHECK(
        fs::is_regular_file(run / "config.json"),
        o.out << ": not a run folder to continue (no config.json); leave out --continue to start one");
    check_same_network((run / "config.json").string(), c);
  } else if (writer && fs::is_directory(run.parent_path().empty() ? fs::path(".") : run.parent_path())) {
    // A run folder whose parent is missing is new by definition; CreatedFolder makes both.
    check_output_path(run, {OutputKind::Folder, {o.dataset, c.init, c.init_critic}});
  }
  UNIPET_CHECK(c.stage != Stage::Critic || !c.init.empty(),
               "--init: the disc stage trains a critic against a trained generator; give its model file");

  // Everything that can fail on bad input happens before the first file is written.
  if (o.device.is_cpu()) {
    // batch=1000 is inside the accepted range; without this it was killed by the kernel.
    std::ostringstream what;
    what << "--set batch=" << c.batch << " / patch=" << c.patch << " / width=" << c.width << ": a training step";
    check_fits_in_memory(nn::training_bytes(c.width, c.batch * c.patch * c.patch * c.patch, c.stage == Stage::UniPET,
                                            o.bf16 ? torch::kBFloat16 : torch::kFloat32),
                         what.str());
  }
  PatchSampler sampler(dataset, c, rank);
  std::vector<ValidationCrop> crops;
  const bool validating = c.validate_every > 0 && c.stage != Stage::Critic;
  if (validating) crops = validation_crops(dataset, c, sampler.cache());
  Networks n = detail::build_networks(c, o.device, o.bf16);
  n.group = group;
  CheckpointParts parts{n.generator, n.critic, n.generator_optimizer.get(), n.critic_optimizer.get()};
  CheckpointState state;
  state.config_json = to_json(c);
  const fs::path latest = run / "checkpoint_latest.pt";
  if (!writer) {
    // Set below from rank 0's state.
  } else if (o.resume && fs::exists(latest)) {
    const CheckpointState saved = load_checkpoint(latest.string(), parts, o.device);
    state.step = saved.step;
    state.best_score = saved.best_score;
    state.best_step = saved.best_step;
  } else {
    if (!c.init.empty()) load_init(n, c, c.init, o.device);
    if (!c.init_critic.empty()) {
      UNIPET_CHECK(n.critic, "--init-critic: this stage has no critic (lambda_adv is 0 or the stage is bdn)");
      nn::Discriminator loaded = nn::load_discriminator(c.init_critic, o.device);
      UNIPET_CHECK(loaded->options.ndf() == c.critic_ndf && loaded->options.n_layers() == c.critic_layers,
                   c.init_critic << ": critic ndf " << loaded->options.ndf() << " / layers "
                                 << loaded->options.n_layers()
                                 << " does not match the configuration's critic_ndf " << c.critic_ndf
                                 << " / critic_layers " << c.critic_layers);
      torch::NoGradGuard no_grad;
      nn::load_state_dict(*n.critic, nn::state_dict(*loaded), c.init_critic);
    }
  }
  if (group) {
    // Every rank starts from rank 0's weights, optimizer moments and step, whatever it started
    // from (an --init, a checkpoint of any world size, or the seed): one message, the checkpoint.
    const std::string bytes = group->broadcast_bytes(writer ? checkpoint_bytes(parts, state) : std::string());
    if (!writer) {
      const CheckpointState saved = load_checkpoint_bytes(bytes, "rank 0's training state", parts, o.device);
      state.step = saved.step;
      state.best_score = saved.best_score;
      state.best_step = saved.best_step;
    }
  }
  UNIPET_CHECK(state.step <= c.iterations, o.out << ": the run is at step " << state.step
                                                 << ", past iterations " << c.iterations
                                                 << " (raise it with --set iterations=N)");

  std::optional<Log> log;
  // A new run that fails before its first step (a study that does not read, say) leaves nothing
  // behind, so the corrected rerun is not refused as "folder not empty".
  // (Declared in this order so the files go first and then the folder, if this run made it.)
  std::optional<CreatedFolder> created;
  NewRunFiles new_run(run, writer && !o.resume);
  if (writer) {
    created.emplace(run);
    write_file_atomically((run / "config.json").string(), to_json(c));
    trim_log(run / "log.jsonl", state.step);
    log.emplace(run / "log.jsonl");
  }

  const nn::IntensityNormalization normalization = c.normalization();
  TrainResult result;
  detail::ValidationScores input_scores;
  if (validating) {
    input_scores = detail::validate(n, c, crops, true);
    result.input_score = input_scores.mean_psnr;
  }
  std::ostream null_stream(nullptr);
  Progress progress(o.progress && writer ? *o.progress : null_stream, to_string(c.stage), c.iterations,
                    state.step);
  if (group)
    progress.message("distributed: " + std::to_string(group->world_size()) + " ranks (" + group->backend() +
                     "), batch " + std::to_string(c.batch) + " per rank; " + all_reduce_plan(n, c));
  const auto started = std::chrono::steady_clock::now();
  const auto seconds = [&] {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  };
  const auto save_latest = [&] {
    if (writer) save_checkpoint(latest.string(), parts, state);
  };
  // A stop request (a signal to any rank) ends the run on every rank after the same step.
  const auto stop_requested = [&] {
    std::vector<double> stop{o.should_stop && o.should_stop() ? 1.0 : 0.0};
    if (group) group->all_reduce(stop, true);
    return stop[0] > 0;
  };

  sampler.start(state.step);
  // Seconds per phase summed since the last log line, and the steps they cover.
  std::map<std::string, double> split;
  int64_t split_steps = 0;
  while (state.step < c.iterations) {
    const auto waited = std::chrono::steady_clock::now();
    const Batch batch = sampler.next();
    split["data"] += std::chrono::duration<double>(std::chrono::steady_clock::now() - waited).count();
    // The unipet stage's generator step updates the critic too, on the same forward pass.
    detail::StepLosses losses;
    int64_t reduced_bytes = 0;
    double reduce_seconds = 0;
    if (c.stage == Stage::Critic)
      for (int64_t r = 0; r < c.critic_steps; ++r) {
        losses = detail::critic_step(n, c, batch, r);
        reduced_bytes += losses.reduced_bytes;
        reduce_seconds += losses.reduce_seconds;
      }
    else
      losses = detail::generator_step(n, c, batch);
    if (c.stage != Stage::Critic) {
      reduced_bytes = losses.reduced_bytes;
      reduce_seconds = losses.reduce_seconds;
    }
    for (const auto& [phase, t] : losses.seconds) split[phase] += t;
    ++split_steps;
    ++state.step;
    if (created) created->keep();
    new_run.keep();
    const bool last = state.step == c.iterations;
    if (state.step % c.log_every == 0 || last) {
      if (group) {
        // The logged losses are the global batch's: the mean of the ranks' (equal-sized) batches.
        std::vector<double> values;
        for (const auto& entry : losses.values) values.push_back(entry.second);
        group->all_reduce(values);
        size_t i = 0;
        for (auto& entry : losses.values) entry.second = values[i++] / static_cast<double>(group->world_size());
      }
      json entry = {{"step", state.step},
                    {"stage", to_string(c.stage)},
                    {"seconds", seconds()},
                    {"it_per_s", progress.rate(state.step)},
                    {"grad_norm", losses.grad_norm}};
      entry["lr"] = c.stage == Stage::Critic ? c.lr_critic : c.lr;
      if (c.stage != Stage::Critic) {
        // Mean seconds per step of each phase since the last line: where a step's time goes.
        json phases = json::object();
        for (const auto& [phase, t] : split) phases[phase] = t / static_cast<double>(split_steps);
        entry["step_seconds"] = phases;
      }
      split.clear();
      split_steps = 0;
      if (group) {
        entry["allreduce_bytes"] = reduced_bytes;
        entry["allreduce_seconds"] = reduce_seconds;
      }
      std::ostringstream status;
      status << std::setprecision(4);
      for (const auto& [k, v] : losses.values) {
        entry[k] = v;
        if (k != "stylized_fraction") status << k << " " << v << "  ";
      }
      if (log) log->write(entry);
      progress.update(state.step, status.str());
    }
    if (validating && (state.step % c.validate_every == 0 || last)) {
      const detail::ValidationScores s = detail::validate(n, c, crops, false);
      result.last_score = s.mean_psnr;
      json entry = scores_json(s);
      entry["step"] = state.step;
      entry["seconds"] = seconds();
      entry["input"] = scores_json(input_scores);
      if (log) log->write(json{{"step", state.step}, {"validation", entry}});
      progress.message("step " + std::to_string(state.step) + " validation: " + scores_text(s, input_scores));
      if (s.mean_psnr > state.best_score) {
        state.best_score = s.mean_psnr;
        state.best_step = state.step;
        if (writer) {
          nn::save_unipet((run / "model_best.safetensors").string(), n.generator, normalization,
                          provenance(c, state.step, origin));
          save_checkpoint((run / "checkpoint_best.pt").string(), parts, state);
        }
      }
    }
    const bool stop = stop_requested();
    if (state.step % c.checkpoint_every == 0 || last || stop) save_latest();
    if (stop && !last) {
      result.interrupted = true;
      break;
    }
  }
  progress.finish();
  if (!result.interrupted && writer) {
    if (c.stage != Stage::Critic)
      nn::save_unipet((run / "model_final.safetensors").string(), n.generator, normalization,
                      provenance(c, state.step, origin));
    if (n.critic)
      nn::save_discriminator((run / "critic_final.safetensors").string(), n.critic,
                             provenance(c, state.step, origin));
  }
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
