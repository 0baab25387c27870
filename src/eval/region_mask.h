#pragma once
// The one place eval turns a user's region mask into a bool tensor, so every masked metric
// accepts the same inputs and fails with the same messages.
#include <string>

#include <torch/torch.h>

namespace unipet::eval::detail {

/// Bool tensor shaped like `like`, on its device: `mask` != 0, or all true when `mask` is
/// undefined (the whole volume). `mask` may be bool or a 0/1 number tensor; its [D, H, W] must equal
/// those of `like` (leading unit dimensions of either are ignored). Throws unipet::Error starting
/// with `what` (the mask's name) on a shape mismatch, values other than 0/1, or a mask with no voxel set.
torch::Tensor region_mask(const torch::Tensor& mask, const torch::Tensor& like, const std::string& what);

}  // namespace unipet::eval::detail
