#pragma once
/// Counting noise and dose reduction in projection space.
///
///   torch::Tensor full = unipet::sim::poisson_counts(expected_prompts, seed);
///   auto low = unipet::sim::thin_nested(full, {2, 4, 10}, seed + 1);   // DRF -> counts
///
/// A dose reduction factor (DRF) k keeps each recorded count independently with probability
/// 1/k, exactly what list-mode subsampling of a full-dose acquisition does: the low-dose counts
/// of a bin are Binomial(full counts, 1/k). thin_nested draws the DRFs in increasing order, each
/// from the previous one with p = k_prev / k, so the datasets are nested (every count of DRF 10 is
/// also a count of DRF 4) while each is still Binomial(full, 1/k).
///
/// Counts are float32 tensors holding whole numbers (exact up to 2^24 per bin). Draws are portable
/// and counter-based (unipet/sim/random.h): bin i uses the stream (seed, first_index + i), so the
/// counts depend neither on the thread count, the device nor the standard library, and a large
/// sinogram drawn in chunks (first_index = the chunk's first flat bin) equals one drawn at once.
#include <cstdint>
#include <map>
#include <vector>

#include <torch/torch.h>

namespace unipet::sim {

/// Poisson(mean) per element; mean >= 0, any shape. Returned on mean's device.
/// Throws unipet::Error for a negative or non-finite mean.
torch::Tensor poisson_counts(const torch::Tensor& mean, uint64_t seed, int64_t first_index = 0);

/// Binomial(counts, keep) per element; counts whole and >= 0, keep in [0, 1].
torch::Tensor thin_counts(const torch::Tensor& counts, double keep, uint64_t seed,
                          int64_t first_index = 0);

/// One step of nested thinning, its one rule: the counts of DRF `drf` drawn from those of
/// `previous_drf` (1 for the full dose; 1 <= previous_drf < drf) by keeping each count with
/// p = previous_drf / drf, so that each stays Binomial(full, 1/drf). thin_nested is a chain of
/// these; the simulator runs the chain itself, a wave of levels at a time, to hold only that many
/// sinograms.
torch::Tensor thin_to_drf(const torch::Tensor& counts_at_previous, double previous_drf, double drf, uint64_t seed,
                          int64_t first_index = 0);

/// Nested binomial thinning of `full_counts` for every DRF in `drfs` (each > 1, any order).
std::map<double, torch::Tensor> thin_nested(const torch::Tensor& full_counts,
                                            const std::vector<double>& drfs, uint64_t seed,
                                            int64_t first_index = 0);

}  // namespace unipet::sim
