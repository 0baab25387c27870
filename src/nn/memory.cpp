#include "unipet/nn/memory.h"

namespace unipet::nn {

namespace {

// The process at rest (LibTorch, the model, the allocator's pools): measured 175 MB.
constexpr double kBaseBytes = 200e6;

double map_bytes(int64_t width, int64_t voxels) {
  return static_cast<double>(width) * static_cast<double>(voxels) * 4.0;
}

}  // namespace

double inference_bytes(int64_t width, int64_t voxels, torch::ScalarType dtype) {
  const double maps = dtype == torch::kFloat32 ? 12.0 : 32.0;
  return kBaseBytes + maps * map_bytes(width, voxels);
}

double training_bytes(int64_t width, int64_t voxels, bool style_and_critic, torch::ScalarType dtype) {
  const double maps = (style_and_critic ? 70.0 : 50.0) * (dtype == torch::kFloat32 ? 1.0 : 2.7);
  return kBaseBytes + maps * map_bytes(width, voxels);
}

}  // namespace unipet::nn
