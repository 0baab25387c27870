#pragma once
/// The body outline of a PET volume, the region whole-image metrics are taken over (air around
/// the patient is noise-free in the full dose and would inflate PSNR and SSIM).
///
///   torch::Tensor body = unipet::body_mask(full_dose.data);      // bool [D, H, W]
///   double p = unipet::eval::psnr_in(full_dose.data, denoised.data, body, 20.0);
#include <torch/torch.h>

namespace unipet {

/// Bool mask [D, H, W] (on the input's device) of the voxels inside the body. Exactly:
///  1. t = fraction × the typical tissue level, the median of the voxels above the volume's mean,
///     so hot organs (a bladder at 60 SUV, brain, heart) do not set the scale;
///  2. body = voxels above t in the image AND in its 3×3×3 box mean (borders average the voxels
///     that exist): the mean drops an isolated noise speck in the air below t, the raw test keeps
///     the box from growing the outline by a voxel at a sharp edge;
///  3. holes are filled per axial slice (index D): every voxel of a slice that is not connected
///     (4-neighbourhood) to the slice's edge through non-body voxels joins the body, so cold
///     lungs or bowel, and noisy low voxels, inside the outline count as body.
/// `full_dose`: a [D, H, W] tensor (leading unit dimensions allowed), any number type.
/// Throws unipet::Error when `fraction` is not in (0, 1) or the image's mean is not positive.
torch::Tensor body_mask(const torch::Tensor& full_dose, double fraction = 0.1);

}  // namespace unipet
