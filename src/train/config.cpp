#include "unipet/train/config.h"

#include <cmath>
#include <fstream>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "unipet/core/error.h"

namespace unipet::train {
namespace {

using nlohmann::json;

// Every field of TrainConfig once, so writing, reading and the unknown-key check cannot drift
// apart. `f(name, field)` is called in file order.
template <class Config, class F>
void visit_fields(Config& c, F&& f) {
  f("width", c.width);
  f("blocks", c.blocks);
  f("san_width", c.san_width);
  f("san_depth", c.san_depth);
  f("critic_ndf", c.critic_ndf);
  f("critic_layers", c.critic_layers);
  f("patch", c.patch);
  f("batch", c.batch);
  f("drfs", c.drfs);
  f("intensity", c.intensity);
  f("clip_max", c.clip_max);
  f("intensity_scale", c.intensity_scale);
  f("identity_fraction", c.identity_fraction);
  f("body_fraction", c.body_fraction);
  f("hot_fraction", c.hot_fraction);
  f("body_threshold", c.body_threshold);
  f("augment", c.augment);
  f("cache_gb", c.cache_gb);
  f("prefetch", c.prefetch);
  f("train_split", c.train_split);
  f("val_split", c.val_split);
  f("iterations", c.iterations);
  f("lr", c.lr);
  f("lr_critic", c.lr_critic);
  f("beta1", c.beta1);
  f("beta2", c.beta2);
  f("beta1_critic", c.beta1_critic);
  f("beta2_critic", c.beta2_critic);
  f("weight_decay", c.weight_decay);
  f("grad_clip", c.grad_clip);
  f("ema", c.ema);
  f("seed", c.seed);
  f("san", c.san);
  f("rals", c.rals);
  f("dose_weighting", c.dose_weighting);
  f("dose_weight_floor", c.dose_weight_floor);
  f("lambda_lesion", c.lambda_lesion);
  f("lesion_scales", c.lesion_scales);
  f("lambda_align", c.lambda_align);
  f("lambda_adv", c.lambda_adv);
  f("lambda_gp", c.lambda_gp);
  f("stylized_threshold", c.stylized_threshold);
  f("critic_steps", c.critic_steps);
  f("log_every", c.log_every);
  f("validate_every", c.validate_every);
  f("checkpoint_every", c.checkpoint_every);
  f("val_crops", c.val_crops);
  f("val_crop", c.val_crop);
  f("val_subjects", c.val_subjects);
  f("init", c.init);
  f("init_critic", c.init_critic);
  f("init_any_mapping", c.init_any_mapping);
}

// Reads one field with a type check that names the key (nlohmann's own messages do not).
template <class T>
void read_field(const json& value, T& field, const std::string& where) {
  if constexpr (std::is_same_v<T, bool>) {
    UNIPET_CHECK(value.is_boolean(), where << ": expected true or false, got " << value.dump());
    field = value.get<bool>();
  } else if constexpr (std::is_same_v<T, std::string>) {
    UNIPET_CHECK(value.is_string(), where << ": expected a string, got " << value.dump());
    field = value.get<std::string>();
  } else if constexpr (std::is_same_v<T, std::vector<double>>) {
    UNIPET_CHECK(value.is_array(), where << ": expected a list of numbers, got " << value.dump());
    field.clear();
    for (const json& v : value) {
      UNIPET_CHECK(v.is_number(), where << ": expected a list of numbers, got " << value.dump());
      field.push_back(v.get<double>());
    }
  } else if constexpr (std::is_integral_v<T>) {
    // 2.0 is accepted as 2; 2.5 and 1e30 are not.
    UNIPET_CHECK(value.is_number(), where << ": expected a whole number, got " << value.dump());
    const double d = value.get<double>();
    UNIPET_CHECK(std::isfinite(d) && d == std::floor(d) && std::fabs(d) < 9.007199254740992e15 &&
                     (std::is_signed_v<T> || d >= 0),
                 where << ": expected a whole number, got " << value.dump());
    field = value.is_number_unsigned() ? static_cast<T>(value.get<uint64_t>()) : static_cast<T>(d);
  } else {
    UNIPET_CHECK(value.is_number(), where << ": expected a number, got " << value.dump());
    field = value.get<double>();
  }
}

json to_json_object(const TrainConfig& c) {
  json j = json::object();
  j["stage"] = to_string(c.stage);
  visit_fields(c, [&](const char* name, const auto& field) { j[name] = field; });
  return j;
}

TrainConfig from_json_object(const json& j, const std::string& source, TrainConfig c) {
  UNIPET_CHECK(j.is_object(), source << ": a training configuration must be a JSON object");
  std::set<std::string> known = {"stage"};
  visit_fields(c, [&](const char* name, auto& field) {
    known.insert(name);
    if (j.contains(name)) read_field(j.at(name), field, source + ": " + name);
  });
  for (const auto& [key, value] : j.items())
    UNIPET_CHECK(known.count(key), source << ": unknown key '" << key << "'");
  if (j.contains("stage")) {
    UNIPET_CHECK(j.at("stage").is_string(), source << ": stage: expected a string");
    c.stage = stage_from_string(j.at("stage").get<std::string>(), source + ": stage");
  }
  return c;
}

TrainConfig cpu_preset() {
  // Half the paper's width and blocks on 48³ patches (0.42 of its voxels) with a higher learning
  // rate: on two cores with bf16, 2000 BDN steps take about 50 minutes and gain 3.8 dB over the
  // low-dose input on simulated data (README, "A CPU profile").
  TrainConfig c;
  c.width = 32;
  c.blocks = 4;
  c.san_width = 64;
  c.san_depth = 2;
  c.critic_ndf = 8;
  c.patch = 48;
  c.batch = 2;
  c.iterations = 6000;
  c.lr = 4e-4;
  c.lr_critic = 4e-4;
  c.validate_every = 500;
  c.checkpoint_every = 250;
  c.val_crops = 2;
  c.val_crop = 64;
  c.val_subjects = 4;
  return c;
}

// The cpu preset with every dose-balancing change of issue 20 (docs/results.md, "Training that
// helps at every dose"): no clip (a square-root mapping, SUV 20 -> 1 as before), each sample's L1
// relative to its input's error, 10% identity pairs, the lesion term; the adversarial and
// alignment weights scaled by the same factor as the reconstruction term grew (a relative L1 is
// about 100 times the plain one), so their share of the loss is the reference's.
TrainConfig cpu_balanced_preset() {
  TrainConfig c = cpu_preset();
  c.intensity = "sqrt";
  c.intensity_scale = 20;
  c.dose_weighting = "input_error";
  c.dose_weight_floor = 0.01;
  c.identity_fraction = 0.1;
  c.lambda_lesion = 0.5;
  c.lesion_scales = 3;
  c.lambda_adv = 0.1;
  c.lambda_align = 0.1;
  return c;
}

}  // namespace

std::string to_string(Stage stage) {
  switch (stage) {
    case Stage::BDN:
      return "bdn";
    case Stage::Critic:
      return "disc";
    case Stage::UniPET:
      return "unipet";
  }
  return "?";
}

Stage stage_from_string(const std::string& text, const std::string& option) {
  if (text == "bdn") return Stage::BDN;
  if (text == "disc" || text == "critic") return Stage::Critic;
  if (text == "unipet") return Stage::UniPET;
  throw Error(option + ": unknown stage '" + text + "' (expected bdn, disc or unipet)");
}

void TrainConfig::validate() const {
  auto positive = [](const char* key, double v) {
    UNIPET_CHECK(std::isfinite(v) && v > 0, key << " must be > 0, got " << v);
  };
  auto non_negative = [](const char* key, double v) {
    UNIPET_CHECK(std::isfinite(v) && v >= 0, key << " must be >= 0, got " << v);
  };
  UNIPET_CHECK(width >= 16, "width must be at least 16, got " << width);
  UNIPET_CHECK(blocks >= 1, "blocks must be >= 1, got " << blocks);
  UNIPET_CHECK(san_width >= 16, "san_width must be at least 16, got " << san_width);
  UNIPET_CHECK(san_depth >= 1 && san_depth <= blocks,
               "san_depth must be in [1, blocks = " << blocks << "], got " << san_depth);
  UNIPET_CHECK(critic_ndf >= 1, "critic_ndf must be >= 1, got " << critic_ndf);
  UNIPET_CHECK(critic_layers >= 1 && critic_layers <= 5,
               "critic_layers must be in [1, 5], got " << critic_layers);
  UNIPET_CHECK(patch >= 8 && patch <= 512, "patch must be in [8, 512] voxels, got " << patch);
  const bool adversarial = stage == Stage::Critic || (stage == Stage::UniPET && lambda_adv > 0);
  const int64_t critic_min = int64_t{1} << (critic_layers + 2);
  UNIPET_CHECK(!adversarial || patch >= critic_min, "patch must be at least "
                                                        << critic_min << " voxels for a critic with "
                                                        << critic_layers << " layers, got " << patch);
  UNIPET_CHECK(batch >= 1 && batch <= 1024, "batch must be in [1, 1024], got " << batch);
  for (double drf : drfs)
    UNIPET_CHECK(std::isfinite(drf) && drf > 1, "drfs: each DRF must be > 1, got " << drf);
  nn::intensity_mapping_from_string(intensity, "intensity");
  positive("clip_max", clip_max);
  positive("intensity_scale", intensity_scale);
  UNIPET_CHECK(identity_fraction >= 0 && identity_fraction <= 0.5,
               "identity_fraction must be in [0, 0.5], got " << identity_fraction);
  UNIPET_CHECK(dose_weighting == "none" || dose_weighting == "input_error",
               "dose_weighting must be none or input_error, got '" << dose_weighting << "'");
  UNIPET_CHECK(std::isfinite(dose_weight_floor) && dose_weight_floor > 0 && dose_weight_floor <= 1,
               "dose_weight_floor must be in (0, 1], got " << dose_weight_floor);
  non_negative("lambda_lesion", lambda_lesion);
  UNIPET_CHECK(lesion_scales >= 1 && lesion_scales <= 5, "lesion_scales must be in [1, 5], got " << lesion_scales);
  UNIPET_CHECK(lambda_lesion == 0 || patch >= (int64_t{1} << lesion_scales),
               "patch must be at least " << (int64_t{1} << lesion_scales) << " voxels for lesion_scales "
                                         << lesion_scales << ", got " << patch);
  UNIPET_CHECK(body_fraction >= 0 && body_fraction <= 1,
               "body_fraction must be in [0, 1], got " << body_fraction);
  UNIPET_CHECK(hot_fraction >= 0 && hot_fraction <= 1, "hot_fraction must be in [0, 1], got " << hot_fraction);
  non_negative("body_threshold", body_threshold);
  positive("cache_gb", cache_gb);
  UNIPET_CHECK(prefetch >= 0 && prefetch <= 64, "prefetch must be in [0, 64], got " << prefetch);
  UNIPET_CHECK(!train_split.empty(), "train_split must not be empty");
  UNIPET_CHECK(iterations >= 1, "iterations must be >= 1, got " << iterations);
  positive("lr", lr);
  positive("lr_critic", lr_critic);
  for (auto [key, b] : {std::pair<const char*, double>{"beta1", beta1},
                        {"beta2", beta2},
                        {"beta1_critic", beta1_critic},
                        {"beta2_critic", beta2_critic}})
    UNIPET_CHECK(b >= 0 && b < 1, key << " must be in [0, 1), got " << b);
  non_negative("weight_decay", weight_decay);
  non_negative("grad_clip", grad_clip);
  UNIPET_CHECK(ema >= 0 && ema < 1, "ema must be in [0, 1) (0: off), got " << ema);
  UNIPET_CHECK(seed < (uint64_t{1} << 53),
               "seed must be below 2^53 (it is stored as a JSON number), got " << seed);
  non_negative("lambda_align", lambda_align);
  non_negative("lambda_adv", lambda_adv);
  non_negative("lambda_gp", lambda_gp);
  non_negative("stylized_threshold", stylized_threshold);
  UNIPET_CHECK(critic_steps >= 1 && critic_steps <= 100,
               "critic_steps must be in [1, 100], got " << critic_steps);
  UNIPET_CHECK(log_every >= 1, "log_every must be >= 1, got " << log_every);
  UNIPET_CHECK(validate_every >= 0, "validate_every must be >= 0, got " << validate_every);
  UNIPET_CHECK(checkpoint_every >= 1, "checkpoint_every must be >= 1, got " << checkpoint_every);
  UNIPET_CHECK(val_crops >= 1, "val_crops must be >= 1, got " << val_crops);
  UNIPET_CHECK(val_crop >= 16 && val_crop <= 512,
               "val_crop must be in [16, 512] voxels (SSIM needs room for its window), got " << val_crop);
  UNIPET_CHECK(val_subjects >= 0, "val_subjects must be >= 0, got " << val_subjects);
  UNIPET_CHECK(validate_every == 0 || !val_split.empty(),
               "val_split must not be empty when validate_every > 0");
}

nn::IntensityNormalization TrainConfig::normalization() const {
  nn::IntensityNormalization n;
  n.units = Units::SUV;
  n.mapping = nn::intensity_mapping_from_string(intensity, "intensity");
  n.clip_max = clip_max;
  n.scale = intensity_scale;
  return n;
}

std::vector<std::string> preset_names() { return {"paper", "cpu", "cpu-balanced"}; }

TrainConfig load_train_config(const std::string& preset_or_file) {
  if (preset_or_file == "paper") return TrainConfig();
  if (preset_or_file == "cpu") return cpu_preset();
  if (preset_or_file == "cpu-balanced") return cpu_balanced_preset();
  std::ifstream in(preset_or_file, std::ios::binary);
  UNIPET_CHECK(in, preset_or_file << ": no such configuration file and not a preset (presets: paper, cpu, cpu-balanced)");
  std::stringstream text;
  text << in.rdbuf();
  return train_config_from_json(text.str(), preset_or_file);
}

std::string to_json(const TrainConfig& config) { return to_json_object(config).dump(2) + "\n"; }

TrainConfig train_config_from_json(const std::string& text, const std::string& source,
                                   const TrainConfig& base) {
  json j;
  try {
    j = json::parse(text);
  } catch (const json::exception& e) {
    throw Error(source + ": not valid JSON (" + e.what() + ")");
  }
  return from_json_object(j, source, base);
}

void apply_setting(TrainConfig& config, const std::string& key_equals_value) {
  const size_t eq = key_equals_value.find('=');
  UNIPET_CHECK(eq != std::string::npos && eq > 0,
               "--set " << key_equals_value << ": expected key=value (e.g. --set iterations=2000)");
  const std::string key = key_equals_value.substr(0, eq), text = key_equals_value.substr(eq + 1);
  json value;
  try {
    value = json::parse(text);
  } catch (const json::exception&) {
    value = text;  // a bare word such as val_split=test
  }
  json j = json::object();
  j[key] = value;
  config = from_json_object(j, "--set " + key, config);
}

}  // namespace unipet::train
