#pragma once
// Models and volumes for the inference tests: an exact identity UniPET, the trained CPU-profile
// model committed in results/, and smooth PET-like volumes with air around a body.
#include <string>

#include <torch/torch.h>

#include "test_util.h"
#include "unipet/nn/model_file.h"

namespace unipet::test {

/// The UniPET trained by results/cpu-profile/run.sh (width 32, 4 blocks, 48³ patches): a real
/// model small enough for tests.
inline std::string trained_model_path() {
  return std::string(UNIPET_TEST_DATA_DIR) + "/../../results/cpu-profile/unipet/model_final.safetensors";
}

/// A small UniPET whose output convolution is zero, so that it returns its input exactly (the
/// network is residual: output = reconstruct(features) + input).
inline void save_identity_model(const std::string& path) {
  torch::manual_seed(3);
  nn::UniPET model(nn::UniPETOptions().width(16).blocks(2).san_width(32).san_depth(1));
  torch::NoGradGuard no_grad;
  model->reconstruct->weight.zero_();
  if (model->reconstruct->bias.defined()) model->reconstruct->bias.zero_();
  nn::save_unipet(path, model, nn::IntensityNormalization());
}

/// A smooth [d, h, w] volume in SUV: an elliptical body (SUV 1) with Gaussian hot spots (up to
/// about 6 SUV) and zero air around it, seeded.
inline torch::Tensor smooth_body(int64_t d, int64_t h, int64_t w, uint64_t seed, double body = 0.8) {
  auto gen = torch::make_generator<torch::CPUGeneratorImpl>(seed);
  auto z = torch::linspace(-1, 1, d).view({d, 1, 1});
  auto y = torch::linspace(-1, 1, h).view({1, h, 1});
  auto x = torch::linspace(-1, 1, w).view({1, 1, w});
  const auto r2 = (x / body).pow(2) + (y / (0.7 * body)).pow(2);
  // A soft edge (a few voxels wide) keeps the volume smooth everywhere.
  auto v = torch::sigmoid((1 - r2.sqrt()) * 12.0).expand({d, h, w}).clone();
  for (int i = 0; i < 4; ++i) {
    auto c = torch::rand({3}, gen) - 0.5;
    const double amp = 2.0 + 4.0 * torch::rand({1}, gen).item<double>();
    v += amp * torch::exp(-((z - c[0].item<double>()).pow(2) + (y - c[1].item<double>()).pow(2) * 2 +
                            (x - c[2].item<double>()).pow(2)) /
                          0.02);
  }
  return torch::where(r2 < 1.1, v, torch::zeros_like(v)).contiguous();
}

}  // namespace unipet::test
