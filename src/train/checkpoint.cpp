#include "unipet/train/checkpoint.h"

#include <filesystem>
#include <fstream>
#include <sstream>
#include <type_traits>

#include "unipet/core/atomic_file.h"
#include "unipet/core/error.h"

namespace unipet::train {
namespace {

constexpr const char* kFormat = "unipet-checkpoint";
constexpr int64_t kVersion = 1;

// Reads the archive in `in` (a file or a byte string); `name` names it in errors.
torch::serialize::InputArchive read_archive(std::istream& in, const std::string& name, torch::Device device) {
  torch::serialize::InputArchive archive;
  try {
    archive.load_from(in, device);
  } catch (const c10::Error& e) {
    throw Error(name + ": not a readable checkpoint (" + e.what_without_backtrace() + ")");
  }
  c10::IValue format;
  UNIPET_CHECK(archive.try_read("format", format) && format.isString() && format.toStringRef() == kFormat,
               name << ": not a unipet checkpoint");
  c10::IValue version;
  UNIPET_CHECK(archive.try_read("version", version) && version.isInt() && version.toInt() == kVersion,
               name << ": checkpoint version not supported by this unipet (expected " << kVersion << ")");
  return archive;
}

torch::serialize::InputArchive open_archive(const std::string& path, torch::Device device) {
  UNIPET_CHECK(std::filesystem::is_regular_file(path), path << ": no such checkpoint file");
  std::ifstream in(path, std::ios::binary);
  UNIPET_CHECK(in, path << ": cannot open the checkpoint");
  return read_archive(in, path, device);
}

// LibTorch's Module::load replaces each tensor whole (set_), so a file of another width would
// load "successfully" and fail later with an unrelated shape error; every tensor is compared first.
void check_shapes(const torch::nn::Module& module, torch::serialize::InputArchive& archive, const std::string& where,
                  const std::string& path) {
  const auto check = [&](const std::string& name, const torch::Tensor& expected, bool is_buffer) {
    torch::Tensor stored;
    if (!archive.try_read(name, stored, is_buffer)) return;  // absent: Module::load names it
    UNIPET_CHECK(stored.sizes() == expected.sizes(), path << ": " << where << name << " is " << stored.sizes()
                                                          << " in the file but " << expected.sizes()
                                                          << " in this configuration");
  };
  for (const auto& p : module.named_parameters(/*recurse=*/false)) check(p.key(), p.value(), false);
  for (const auto& b : module.named_buffers(/*recurse=*/false)) check(b.key(), b.value(), true);
  for (const auto& child : module.named_children()) {
    torch::serialize::InputArchive nested;
    if (archive.try_read(child.key(), nested)) check_shapes(*child.value(), nested, where + child.key() + ".", path);
  }
}

template <class Part>
void read_part(torch::serialize::InputArchive& archive, const char* key, Part& part,
               const std::string& path) {
  torch::serialize::InputArchive nested;
  UNIPET_CHECK(archive.try_read(key, nested), path << ": the checkpoint holds no " << key);
  if constexpr (std::is_base_of_v<torch::nn::Module, Part>) check_shapes(part, nested, std::string(key) + ".", path);
  try {
    part.load(nested);
  } catch (const c10::Error& e) {
    throw Error(path + ": " + key + " does not fit this configuration (" + e.what_without_backtrace() + ")");
  }
}

}  // namespace

bool is_checkpoint_path(const std::string& path) {
  return path.size() > 3 && path.compare(path.size() - 3, 3, ".pt") == 0;
}

std::string checkpoint_bytes(const CheckpointParts& parts, const CheckpointState& state) {
  UNIPET_CHECK(parts.generator, "save_checkpoint: a generator is required");
  torch::serialize::OutputArchive archive;
  archive.write("format", c10::IValue(std::string(kFormat)));
  archive.write("version", c10::IValue(kVersion));
  archive.write("step", c10::IValue(state.step));
  archive.write("best_score", c10::IValue(state.best_score));
  archive.write("best_step", c10::IValue(state.best_step));
  archive.write("config", c10::IValue(state.config_json));
  const auto write_part = [&](const char* key, const auto& part) {
    torch::serialize::OutputArchive nested;
    part.save(nested);
    archive.write(key, nested);
  };
  write_part("generator", *parts.generator);
  if (parts.average) write_part("average", *parts.average);
  if (parts.critic) write_part("critic", *parts.critic);
  if (parts.generator_optimizer) write_part("generator_optimizer", *parts.generator_optimizer);
  if (parts.critic_optimizer) write_part("critic_optimizer", *parts.critic_optimizer);
  std::ostringstream bytes;
  archive.save_to(bytes);
  return bytes.str();
}

void save_checkpoint(const std::string& path, const CheckpointParts& parts, const CheckpointState& state) {
  write_file_atomically(path, checkpoint_bytes(parts, state));
}

namespace {

CheckpointState read_checkpoint(torch::serialize::InputArchive& archive, const std::string& path,
                                const CheckpointParts& parts) {
  CheckpointState state;
  c10::IValue v;
  UNIPET_CHECK(archive.try_read("step", v) && v.isInt(), path << ": the checkpoint has no step");
  state.step = v.toInt();
  UNIPET_CHECK(archive.try_read("best_score", v) && v.isDouble(),
               path << ": the checkpoint has no best_score");
  state.best_score = v.toDouble();
  UNIPET_CHECK(archive.try_read("best_step", v) && v.isInt(), path << ": the checkpoint has no best_step");
  state.best_step = v.toInt();
  UNIPET_CHECK(archive.try_read("config", v) && v.isString(), path << ": the checkpoint has no config");
  state.config_json = v.toStringRef();
  // Holders are copied: a const holder only hands out a const module.
  if (nn::UniPET generator = parts.generator) read_part(archive, "generator", *generator, path);
  torch::serialize::InputArchive average_archive;
  if (nn::UniPET average = parts.average; average && archive.try_read("average", average_archive)) {
    read_part(archive, "average", *average, path);
    state.average_loaded = true;
  }
  if (nn::Discriminator critic = parts.critic) read_part(archive, "critic", *critic, path);
  if (parts.generator_optimizer) read_part(archive, "generator_optimizer", *parts.generator_optimizer, path);
  if (parts.critic_optimizer) read_part(archive, "critic_optimizer", *parts.critic_optimizer, path);
  return state;
}

}  // namespace

CheckpointState load_checkpoint(const std::string& path, const CheckpointParts& parts, torch::Device device) {
  torch::serialize::InputArchive archive = open_archive(path, device);
  return read_checkpoint(archive, path, parts);
}

CheckpointState load_checkpoint_bytes(const std::string& bytes, const std::string& name,
                                      const CheckpointParts& parts, torch::Device device) {
  std::istringstream in(bytes);
  torch::serialize::InputArchive archive = read_archive(in, name, device);
  return read_checkpoint(archive, name, parts);
}

std::string checkpoint_config(const std::string& path) {
  torch::serialize::InputArchive archive = open_archive(path, torch::kCPU);
  c10::IValue v;
  UNIPET_CHECK(archive.try_read("config", v) && v.isString(), path << ": the checkpoint has no config");
  return v.toStringRef();
}

}  // namespace unipet::train
