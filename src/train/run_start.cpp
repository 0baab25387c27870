// How a run starts: from a checkpoint it continues (which must be the same network), from a
// model or checkpoint given with --init, or from a critic given with --init-critic.
#include "run_start.h"

#include <fstream>
#include <tuple>

#include <nlohmann/json.hpp>

#include "unipet/core/atomic_file.h"
#include "unipet/core/error.h"
#include "unipet/nn/model_file.h"
#include "unipet/train/checkpoint.h"

namespace unipet::train::detail {
namespace {

namespace fs = std::filesystem;
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

}  // namespace

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

void load_init_critic(Networks& n, const TrainConfig& c, torch::Device device) {
  UNIPET_CHECK(n.critic, "--init-critic: this stage has no critic (lambda_adv is 0 or the stage is bdn)");
  nn::Discriminator loaded = nn::load_discriminator(c.init_critic, device);
  UNIPET_CHECK(loaded->options.ndf() == c.critic_ndf && loaded->options.n_layers() == c.critic_layers,
               c.init_critic << ": critic ndf " << loaded->options.ndf() << " / layers " << loaded->options.n_layers()
                             << " does not match the configuration's critic_ndf " << c.critic_ndf
                             << " / critic_layers " << c.critic_layers);
  torch::NoGradGuard no_grad;
  nn::load_state_dict(*n.critic, nn::state_dict(*loaded), c.init_critic);
}

}  // namespace unipet::train::detail
