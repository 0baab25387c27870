#pragma once
// Access to the tensors the authors' PyTorch code produced (../shared/reference) and the
// relative-error measure their README's tolerances are stated in.
#include <string>

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "test_paths.h"
#include "unipet/io/safetensors.h"

namespace unipet::test {

inline std::string reference_path(const std::string& name) {
  return std::string(UNIPET_REFERENCE_DIR) + "/" + name;
}

inline const io::SafetensorsFile& reference(const std::string& name) {
  static std::map<std::string, io::SafetensorsFile> cache;
  auto it = cache.find(name);
  if (it == cache.end()) it = cache.emplace(name, io::read_safetensors(reference_path(name))).first;
  return it->second;
}

inline torch::Tensor reference_tensor(const std::string& file, const std::string& key) {
  return reference(file).tensors.at(key);
}

// ‖a − b‖ / ‖b‖ in float64.
inline double relative_error(const torch::Tensor& a, const torch::Tensor& b) {
  auto a64 = a.detach().to(torch::kCPU, torch::kFloat64);
  auto b64 = b.detach().to(torch::kCPU, torch::kFloat64).reshape(a64.sizes());
  return (a64 - b64).norm().item<double>() / b64.norm().item<double>();
}

}  // namespace unipet::test
