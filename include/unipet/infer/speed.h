#pragma once
/// The `unipet speed` check: build (or load) a UniPET model, denoise a synthetic PET-like volume
/// and report shape, timing and parameter count.
///
///   auto report = unipet::infer::run_speed_check(unipet::infer::SpeedOptions().size(64));
///   std::cout << report.summary();
#include <cstdint>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "unipet/core/compute.h"

namespace unipet::infer {

struct SpeedOptions {
  TORCH_ARG(int64_t, size) = 64;            ///< cube side of the synthetic volume, voxels
  TORCH_ARG(std::string, model_path) = "";  ///< empty: a default UniPET with seeded random weights
  TORCH_ARG(ComputeOptions, compute);       ///< --device, --precision, --threads
  TORCH_ARG(int, repeats) = 2;              ///< timed forward passes after one warm-up
  TORCH_ARG(uint64_t, seed) = 1;
};

struct SpeedReport {
  std::string model;           ///< "default UniPET (random weights)" or the model path
  std::string device, dtype;
  int threads = 0;
  int64_t parameters = 0;
  std::vector<int64_t> input_shape, output_shape;
  double seconds_per_forward = 0;  ///< median over the repeats
  double voxels_per_second = 0;
  double input_mean_suv = 0, output_mean_suv = 0;

  std::string summary() const;
};

/// A deterministic PET-like test volume [D, H, W] in SUV: an elliptical body (SUV ≈ 1), a liver
/// (≈ 2.5), a bladder (≈ 15), hot spheres (4–10), with Poisson noise at `counts_per_suv` counts
/// per voxel per unit SUV (lower = noisier, like a lower dose).
torch::Tensor synthetic_pet_volume(int64_t d, int64_t h, int64_t w, uint64_t seed,
                                   double counts_per_suv = 5.0);

/// Runs the check. Throws unipet::Error on a bad option or model file.
SpeedReport run_speed_check(const SpeedOptions& options);

}  // namespace unipet::infer
