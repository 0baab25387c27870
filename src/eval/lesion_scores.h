#pragma once
// Lesion scores of one prediction: SUV statistics against the full dose (and the truth) and
// contrast recovery against a background shell. The regions are found once per subject.
#include <vector>

#include <torch/torch.h>

#include "unipet/core/volume.h"
#include "unipet/eval/evaluation.h"

namespace unipet::eval::detail {

// Where each lesion and its background are, as flat voxel indices: computed once per subject
// (the dilation is the costly part) and reused for every method and DRF. The background is a
// shell 2 to 4 voxels around the lesion, other lesions left out.
struct LesionRegion {
  int64_t label;
  torch::Tensor lesion, shell;  // flat indices; shell empty when there is no background
};

std::vector<LesionRegion> lesion_regions(const Volume& labels);

/// Each lesion of `labels` scored in `pred` against `full` (and `truth` when given), in the order
/// of lesion_stats; `regions` from lesion_regions(labels).
std::vector<LesionScore> score_lesions(const Volume& pred, const Volume& full, const Volume* truth, const Volume& labels,
                                       const std::vector<LesionRegion>& regions);

}  // namespace unipet::eval::detail
