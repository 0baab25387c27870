#pragma once
/// Whole-volume inference with a network that sees one tile at a time: tiles overlap, each tile's
/// prediction is weighted by a Gaussian importance map and the volume is Σ w·pred / Σ w, so no
/// tile edge shows. Memory is the batch of tiles plus two volume-sized accumulators (three with
/// an uncertainty map), whatever the number of tiles.
///
///   unipet::infer::SlidingWindowOptions o;           // 64³ tiles, 25% overlap
///   auto r = unipet::infer::sliding_window(suv, [&](const torch::Tensor& t) { return net(t); }, o);
///   r.image;        // [D, H, W], same units as `suv`
///
/// Background: tiles whose voxels are all below `background` × the volume's robust maximum (air
/// around the body, half or more of a whole-body field of view) are not run; they count as their
/// own prediction, so the tiles that do run are exactly those of running everything and the result
/// differs only where background tiles overlap them. (Fitting the tile grid to the body instead
/// saves about a quarter more tiles on a whole-body volume but moves every tile, and each tile's
/// SAN sees other context: the result then differs by as much as changing the overlap does.)
#include <array>
#include <cstdint>
#include <functional>
#include <vector>

#include <torch/torch.h>

namespace unipet::infer {

/// Maps a batch of tiles [N, 1, t, t, t] to predictions of the same shape and units (float32).
using TileFunction = std::function<torch::Tensor(const torch::Tensor& tiles)>;

struct SlidingWindowOptions {
  int64_t tile = 64;          ///< cube side, voxels
  double overlap = 0.25;      ///< fraction of a tile that neighbours share, in [0, 0.9]
  int64_t batch = 1;          ///< tiles per call of the tile function
  double sigma_scale = 0.125; ///< σ of the Gaussian importance map = tile × sigma_scale
  /// Tiles with every voxel below background × robust maximum are not run; 0 runs every tile.
  double background = 0.01;
  bool tta = false;           ///< average over the 8 flips of each tile
  bool uncertainty = false;   ///< also return the standard deviation over the 8 flips (needs tta)
  /// Called after each batch with (tiles done, tiles to run).
  std::function<void(int64_t, int64_t)> progress;

  /// Throws unipet::Error naming the option (--tile, --overlap, --batch, --background,
  /// --uncertainty) that is out of range.
  void validate() const;
};

/// Where the tiles go. Coordinates are tile starts (d, h, w) in the volume after padding.
struct TilePlan {
  int64_t tile = 0;
  std::array<int64_t, 3> size{};        ///< input size (D, H, W)
  std::array<int64_t, 3> pad_before{};  ///< reflection padding of axes shorter than a tile
  std::array<int64_t, 3> padded{};      ///< size after padding
  std::vector<std::array<int64_t, 3>> run;      ///< tiles run through the network
  std::vector<std::array<int64_t, 3>> skipped;  ///< background tiles of the grid, not run
  double threshold = 0;                 ///< background threshold in the volume's units (0: none)
};

/// The value below which a voxel is background: `fraction` × the 99.9th percentile of the volume
/// (robust to a few hot voxels). 0 when `fraction` is 0.
double background_threshold(const torch::Tensor& volume, double fraction);

/// The tiles sliding_window would run for `volume` [D, H, W].
TilePlan plan_tiles(const torch::Tensor& volume, const SlidingWindowOptions& options);

/// The Gaussian importance map [t, t, t]: 1 at the centre, σ = t × sigma_scale, floored at 1e-4
/// so voxels that only tile corners reach still get a well-defined weighted mean.
torch::Tensor importance_map(int64_t tile, double sigma_scale, const torch::Device& device);

struct SlidingWindowResult {
  torch::Tensor image;        ///< [D, H, W] float32, on the volume's device
  torch::Tensor uncertainty;  ///< [D, H, W] when requested: std over the 8 flips, blended
  int64_t tiles_run = 0;
  int64_t tiles_skipped = 0;
  int64_t evaluations = 0;    ///< tiles through the network (8 per tile with tta)
};

/// Runs `fn` over the tiles of `volume` [D, H, W] (any device, float32) and blends them. With
/// tta each tile is predicted under the 8 flips of its axes (each prediction flipped back) and
/// averaged; the uncertainty is sqrt(Σ w·var / Σ w), var being each tile's population variance
/// over its 8 predictions.
SlidingWindowResult sliding_window(const torch::Tensor& volume, const TileFunction& fn,
                                   const SlidingWindowOptions& options);

}  // namespace unipet::infer
