#pragma once
/// Model files: safetensors with the reference's key names and the configuration in the
/// metadata, so a checkpoint converted from the authors' PyTorch code loads as is and every
/// command can rebuild the network from the file alone.
///
///   unipet::nn::save_unipet("model.safetensors", model, norm);
///   auto loaded = unipet::nn::load_unipet("model.safetensors", torch::kCUDA);
///   std::cout << unipet::nn::describe_model_file("model.safetensors");
///
/// Metadata keys: "unipet.kind" ("UniPET" or "Discriminator"), "unipet.width", "unipet.blocks",
/// "unipet.san_width", "unipet.san_depth", "unipet.san_bypassed", "unipet.norm.units",
/// "unipet.norm.clip_max", "unipet.norm.mapping" and "unipet.norm.scale" (absent: linear),
/// "unipet.ndf", "unipet.n_layers". A file without them but with the
/// reference exporter's "channels", "res_num", "latent_size" is read with those.
#include <map>
#include <string>

#include <torch/torch.h>

#include "unipet/nn/discriminator.h"
#include "unipet/nn/intensity.h"
#include "unipet/nn/unipet.h"

namespace unipet::nn {

/// Every parameter and buffer of `module` by its dotted name.
std::map<std::string, torch::Tensor> state_dict(const torch::nn::Module& module);

/// Copies `tensors` into `module`'s parameters and buffers (converting dtype and device). Throws
/// unipet::Error naming `source` and every missing, unexpected and wrongly shaped key.
void load_state_dict(torch::nn::Module& module, const std::map<std::string, torch::Tensor>& tensors,
                     const std::string& source);

struct LoadedUniPET {
  UniPET model{nullptr};
  IntensityNormalization normalization;
  std::map<std::string, std::string> metadata;
};

/// Writes the model (weights as float32 on the CPU) with its configuration, atomically.
/// `extra_metadata` is stored too (e.g. training provenance).
void save_unipet(const std::string& path, UniPET& model, const IntensityNormalization& normalization,
                 const std::map<std::string, std::string>& extra_metadata = {});

/// Rebuilds the network from the file's metadata, loads the weights and moves it to `device`.
LoadedUniPET load_unipet(const std::string& path, torch::Device device = torch::kCPU);

/// The UniPET configuration recorded in a file's metadata (defaults where a key is absent);
/// throws unipet::Error naming the key when a value is malformed.
UniPETOptions unipet_options_from_metadata(const std::map<std::string, std::string>& metadata,
                                           const std::string& source);

void save_discriminator(const std::string& path, Discriminator& critic,
                        const std::map<std::string, std::string>& extra_metadata = {});
Discriminator load_discriminator(const std::string& path, torch::Device device = torch::kCPU);

/// A human-readable summary of a model file: kind, configuration, normalisation, parameter
/// count, size and any other metadata (what `unipet info MODEL` prints).
std::string describe_model_file(const std::string& path);

}  // namespace unipet::nn
