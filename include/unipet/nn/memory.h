#pragma once
/// Peak memory of the UniPET network, so a size inside an option's range that the machine cannot
/// hold is refused at once (core/device.h, check_fits_in_memory) instead of being killed by the
/// kernel a minute later.
///
///   unipet::check_fits_in_memory(unipet::nn::inference_bytes(64, 64 * 64 * 64, torch::kFloat32),
///                                "--tile 64 / --batch 1: a forward of the network");
///
/// The figures are peak resident memory measured with /usr/bin/time on LibTorch 1.13's CPU build
/// (oneDNN), width 64, 2 threads, minus the process's 175 MB at rest, in units of one float32
/// feature map (width × voxels × 4 bytes):
///   inference, float32   8.9 maps at 64³, 9.2 at 48³, 11.4 at 80³ (`unipet speed --size S`)
///   inference, bfloat16  30 maps at 48³ and 64³ (oneDNN keeps float32 copies and reorders)
///   training, bdn/disc   48 maps per sample at 32³ (`train --stage bdn`, batch 1 and 3)
///   training, unipet     68 maps per sample at 32³ (SAN, style target and critic as well)
/// The estimates use 12, 32, 50 and 70 maps; training in bfloat16 is taken to cost what the
/// inference ratio says (×2.7), not measured. They are meant to catch sizes that are far too
/// large (a 512³ tile is 450 GB), not to predict the peak to a few percent.
#include <cstdint>

#include <torch/torch.h>

namespace unipet::nn {

/// Bytes a no-grad forward of `voxels` voxels (batch × tile³) takes at BDN width `width`.
double inference_bytes(int64_t width, int64_t voxels, torch::ScalarType dtype);

/// Bytes a training step of `voxels` voxels (batch × patch³) takes; `style_and_critic` for the
/// unipet stage (SAN, style target, critic), else the bdn and disc stages.
double training_bytes(int64_t width, int64_t voxels, bool style_and_critic, torch::ScalarType dtype);

}  // namespace unipet::nn
