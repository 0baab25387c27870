#include "unipet/nn/model_file.h"

#include <cmath>
#include <filesystem>
#include <optional>
#include <set>
#include <sstream>
#include <vector>

#include "unipet/core/error.h"
#include "unipet/io/safetensors.h"

namespace unipet::nn {
namespace {

constexpr const char* kKind = "unipet.kind";

// "a, b, c" with at most `limit` names, then "and N more".
std::string name_list(const std::vector<std::string>& names, size_t limit = 8) {
  std::ostringstream os;
  for (size_t i = 0; i < names.size() && i < limit; ++i) os << (i ? ", " : "") << names[i];
  if (names.size() > limit) os << " and " << names.size() - limit << " more";
  return os.str();
}

const std::string* find(const std::map<std::string, std::string>& metadata, const std::string& key) {
  auto it = metadata.find(key);
  return it == metadata.end() ? nullptr : &it->second;
}

// The first of `keys` present in `metadata`, with its value parsed as a number.
std::optional<std::pair<std::string, double>> metadata_number(
    const std::map<std::string, std::string>& metadata, const std::vector<std::string>& keys,
    const std::string& source) {
  for (const auto& key : keys) {
    const std::string* text = find(metadata, key);
    if (!text) continue;
    size_t used = 0;
    double value = 0;
    try {
      value = std::stod(*text, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    UNIPET_CHECK(used == text->size() && used > 0 && std::isfinite(value),
                 source << ": metadata '" << key << "' = '" << *text << "' is not a number");
    return std::make_pair(key, value);
  }
  return std::nullopt;
}

int64_t metadata_int(const std::map<std::string, std::string>& metadata,
                     const std::vector<std::string>& keys, int64_t fallback, const std::string& source) {
  const auto found = metadata_number(metadata, keys, source);
  if (!found) return fallback;
  const double value = found->second;
  UNIPET_CHECK(value == std::floor(value) && value > 0 && value < (1 << 20),
               source << ": metadata '" << found->first << "' = '" << metadata.at(found->first)
                      << "' is not a positive integer");
  return static_cast<int64_t>(value);
}

double metadata_double(const std::map<std::string, std::string>& metadata, const std::string& key,
                       double fallback, const std::string& source) {
  const auto found = metadata_number(metadata, {key}, source);
  return found ? found->second : fallback;
}

io::SafetensorsFile file_of(const torch::nn::Module& module, std::map<std::string, std::string> metadata) {
  io::SafetensorsFile file;
  for (const auto& [name, tensor] : state_dict(module)) {
    file.tensors[name] = tensor.detach().to(torch::kCPU, torch::kFloat32);
  }
  file.metadata = std::move(metadata);
  return file;
}

io::SafetensorsFile read_model_file(const std::string& path, const std::string& expected_kind) {
  auto file = io::read_safetensors(path);
  if (const std::string* kind = find(file.metadata, kKind)) {
    UNIPET_CHECK(*kind == expected_kind, path << ": holds a " << *kind << ", not a " << expected_kind);
  }
  return file;
}

}  // namespace

std::map<std::string, torch::Tensor> state_dict(const torch::nn::Module& module) {
  std::map<std::string, torch::Tensor> state;
  for (const auto& item : module.named_parameters(true)) state[item.key()] = item.value();
  for (const auto& item : module.named_buffers(true)) state[item.key()] = item.value();
  return state;
}

void load_state_dict(torch::nn::Module& module, const std::map<std::string, torch::Tensor>& tensors,
                     const std::string& source) {
  auto expected = state_dict(module);
  std::vector<std::string> missing, unexpected, mismatched;
  for (const auto& [name, target] : expected) {
    auto it = tensors.find(name);
    if (it == tensors.end()) {
      missing.push_back(name);
    } else if (it->second.sizes() != target.sizes()) {
      std::ostringstream os;
      os << name << " (file " << it->second.sizes() << ", model " << target.sizes() << ")";
      mismatched.push_back(os.str());
    }
  }
  for (const auto& [name, tensor] : tensors) {
    if (!expected.count(name)) unexpected.push_back(name);
  }
  if (!missing.empty() || !unexpected.empty() || !mismatched.empty()) {
    std::ostringstream os;
    os << source << ": weights do not fit the network:";
    if (!missing.empty()) os << " missing keys: " << name_list(missing) << ";";
    if (!unexpected.empty()) os << " unexpected keys: " << name_list(unexpected) << ";";
    if (!mismatched.empty()) os << " wrongly shaped keys: " << name_list(mismatched) << ";";
    std::string message = os.str();
    message.pop_back();
    throw Error(message);
  }
  torch::NoGradGuard no_grad;
  for (auto& [name, target] : expected) {
    target.copy_(tensors.at(name).to(target.device(), target.scalar_type()));
  }
}

UniPETOptions unipet_options_from_metadata(const std::map<std::string, std::string>& metadata,
                                           const std::string& source) {
  UniPETOptions o;
  // The reference exporter's keys come second so our own metadata wins.
  o.width(metadata_int(metadata, {"unipet.width", "channels"}, o.width(), source));
  o.blocks(metadata_int(metadata, {"unipet.blocks", "res_num"}, o.blocks(), source));
  o.san_width(metadata_int(metadata, {"unipet.san_width", "latent_size"}, o.san_width(), source));
  o.san_depth(metadata_int(metadata, {"unipet.san_depth"}, o.san_depth(), source));
  return o;
}

void save_unipet(const std::string& path, UniPET& model, const IntensityNormalization& normalization,
                 const std::map<std::string, std::string>& extra_metadata) {
  normalization.validate();
  auto metadata = extra_metadata;
  const auto& o = model->options;
  metadata[kKind] = "UniPET";
  metadata["unipet.width"] = std::to_string(o.width());
  metadata["unipet.blocks"] = std::to_string(o.blocks());
  metadata["unipet.san_width"] = std::to_string(o.san_width());
  metadata["unipet.san_depth"] = std::to_string(o.san_depth());
  metadata["unipet.san_bypassed"] = model->san_bypassed() ? "true" : "false";
  metadata["unipet.norm.units"] = to_string(normalization.units);
  const auto exact = [](double v) {
    std::ostringstream text;
    text.precision(17);
    text << v;
    return text.str();
  };
  metadata["unipet.norm.clip_max"] = exact(normalization.clip_max);
  // Files of the linear mapping keep the keys they always had, so they stay byte-identical.
  if (normalization.mapping != IntensityMapping::Linear) {
    metadata["unipet.norm.mapping"] = to_string(normalization.mapping);
    metadata["unipet.norm.scale"] = exact(normalization.scale);
  }
  io::write_safetensors(path, file_of(*model, std::move(metadata)));
}

LoadedUniPET load_unipet(const std::string& path, torch::Device device) {
  auto file = read_model_file(path, "UniPET");
  LoadedUniPET loaded;
  loaded.model = UniPET(unipet_options_from_metadata(file.metadata, path));
  load_state_dict(*loaded.model, file.tensors, path);
  if (const std::string* bypassed = find(file.metadata, "unipet.san_bypassed")) {
    loaded.model->set_san_bypassed(*bypassed == "true");
  }
  if (const std::string* units = find(file.metadata, "unipet.norm.units")) {
    try {
      loaded.normalization.units = units_from_string(*units);
    } catch (const Error& e) {
      UNIPET_FAIL(path << ": metadata 'unipet.norm.units': " << e.what());
    }
  }
  loaded.normalization.clip_max =
      metadata_double(file.metadata, "unipet.norm.clip_max", loaded.normalization.clip_max, path);
  // Files written before the mapping was recorded are linear (the only mapping there was).
  if (const std::string* mapping = find(file.metadata, "unipet.norm.mapping")) {
    try {
      loaded.normalization.mapping = intensity_mapping_from_string(*mapping, "metadata 'unipet.norm.mapping'");
    } catch (const Error& e) {
      UNIPET_FAIL(path << ": " << e.what());
    }
  }
  loaded.normalization.scale =
      metadata_double(file.metadata, "unipet.norm.scale", loaded.normalization.scale, path);
  try {
    loaded.normalization.validate();
  } catch (const Error& e) {
    UNIPET_FAIL(path << ": " << e.what());
  }
  loaded.model->to(device);
  loaded.metadata = std::move(file.metadata);
  return loaded;
}

void save_discriminator(const std::string& path, Discriminator& critic,
                        const std::map<std::string, std::string>& extra_metadata) {
  auto metadata = extra_metadata;
  metadata[kKind] = "Discriminator";
  metadata["unipet.in_channels"] = std::to_string(critic->options.in_channels());
  metadata["unipet.ndf"] = std::to_string(critic->options.ndf());
  metadata["unipet.n_layers"] = std::to_string(critic->options.n_layers());
  io::write_safetensors(path, file_of(*critic, std::move(metadata)));
}

Discriminator load_discriminator(const std::string& path, torch::Device device) {
  auto file = read_model_file(path, "Discriminator");
  DiscriminatorOptions o;
  o.in_channels(metadata_int(file.metadata, {"unipet.in_channels"}, o.in_channels(), path));
  o.n_layers(metadata_int(file.metadata, {"unipet.n_layers"}, o.n_layers(), path));
  // A reference export records no ndf: the first convolution's width tells it.
  auto first = file.tensors.find("model.0.weight");
  const int64_t ndf_from_weights = first != file.tensors.end() && first->second.dim() == 5
                                       ? first->second.size(0) : o.ndf();
  o.ndf(metadata_int(file.metadata, {"unipet.ndf"}, ndf_from_weights, path));
  Discriminator critic(o);
  load_state_dict(*critic, file.tensors, path);
  critic->to(device);
  return critic;
}

std::string describe_model_file(const std::string& path) {
  auto file = io::read_safetensors(path);
  int64_t values = 0;
  for (const auto& [name, t] : file.tensors) values += t.numel();
  std::ostringstream os;
  const std::string* kind = find(file.metadata, kKind);
  const bool is_discriminator = (kind && *kind == "Discriminator") ||
                                (!kind && file.tensors.count("linear.weight"));
  os << "file:        " << path << " (" << std::filesystem::file_size(path) << " bytes)\n";
  os << "kind:        " << (is_discriminator ? "Discriminator" : "UniPET")
     << (kind ? "" : " (no unipet metadata; inferred from the keys)") << "\n";
  os << "tensors:     " << file.tensors.size() << " (" << values << " values)\n";
  if (is_discriminator) {
    auto critic = load_discriminator(path);
    os << "ndf:         " << critic->options.ndf() << "\n";
    os << "n_layers:    " << critic->options.n_layers() << "\n";
    os << "min patch:   " << critic->min_patch_size() << "^3\n";
  } else {
    auto loaded = load_unipet(path);
    const auto& o = loaded.model->options;
    os << "width:       " << o.width() << "\n";
    os << "blocks:      " << o.blocks() << "\n";
    os << "SAN:         " << (loaded.model->san_bypassed() ? "bypassed (plain BDN), " : "")
       << "width " << o.san_width() << ", depth " << o.san_depth() << "\n";
    os << "parameters:  " << parameter_count(*loaded.model) << "\n";
    os << "input:       " << loaded.normalization.describe() << "\n";
  }
  // Provenance written by `unipet train` (its full configuration stays in unipet.train.config).
  const std::string* stage = find(file.metadata, "unipet.train.stage");
  const std::string* step = find(file.metadata, "unipet.train.step");
  if (stage) os << "trained:     stage " << *stage << (step ? ", " + *step + " steps" : "") << "\n";
  if (const std::string* command = find(file.metadata, "unipet.train.command")) os << "command:     " << *command << "\n";
  if (const std::string* name = find(file.metadata, "unipet.train.dataset_name")) {
    const std::string* seed = find(file.metadata, "unipet.train.dataset_seed");
    // The seed is a JSON number ("2026" or, from earlier versions, "2026.0"): shown as an integer.
    std::string shown = seed ? *seed : "";
    if (seed && shown.size() > 2 && shown.compare(shown.size() - 2, 2, ".0") == 0) shown.resize(shown.size() - 2);
    os << "data:        " << *name << (seed ? " (seed " + shown + ")" : "") << "\n";
  }
  if (const std::string* commit = find(file.metadata, "unipet.git_commit")) {
    const std::string* version = find(file.metadata, "unipet.version");
    os << "code:        unipet " << (version ? *version + " " : "") << "commit " << *commit << "\n";
  }
  for (const auto& [key, value] : file.metadata) {
    if (key.rfind("unipet.", 0) != 0) os << "metadata:    " << key << " = " << value << "\n";
  }
  return os.str();
}

}  // namespace unipet::nn
