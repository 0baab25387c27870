#pragma once
// Internals of generate_phantom: a subject's anatomy drawn as a description in millimetres, and
// its rendering at any set of points. Drawing and rendering are separate so that the same subject
// can be shown on grids of any voxel size, and lesion centres can be chosen without a grid.
#include <array>
#include <map>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "unipet/sim/phantom.h"
#include "unipet/sim/random.h"

namespace unipet::sim::detail {

/// Tissue labels; organ_names() lists their names in this order.
enum Tissue : uint8_t {
  kAir,
  kFat,
  kMuscle,
  kLung,
  kLiver,
  kSpleen,
  kKidneyCortex,
  kKidneyPelvis,
  kMyocardium,
  kBloodPool,
  kBladder,
  kBone,
  kMarrow,
  kWhiteMatter,
  kCortex,
  kSkull,
  kTissueCount
};

constexpr double kSoftTissueMu = 0.096;  // 1/cm at 511 keV

/// An ellipsoid, or an elliptic cylinder along z over [z0, z1) whose x semi-axis may vary along z
/// as semi[0] * (1 + wobble * cos(wobble_rate * z + wobble_phase)) - inset (the torso's).
/// Coordinates: x patient left, y posterior, z from the bottom of the field of view, all in mm.
struct Shape {
  Tissue tissue = kAir;
  bool paint = true;           ///< paints `tissue` (later shapes win)
  bool inside_body = false;    ///< paints only within the body's inner (muscle) region
  bool defines_inner = false;  ///< part of that inner region
  bool cylinder = false;
  std::array<double, 3> centre{0, 0, 0};
  std::array<double, 3> semi{1, 1, 1};
  double z0 = 0, z1 = 0;
  double wobble = 0, wobble_rate = 0, wobble_phase = 0, inset = 0;
};

/// Where lesions of one kind may sit: boxes (x0, x1, y0, y1, z0, z1 in mm, inside the field of
/// view) of which one is drawn, and the tissues a centre must fall in.
struct LesionSite {
  std::string host;         ///< "liver", "node_axillary", "bone", ...
  Tissue reference = kAir;  ///< tissue whose uptake the lesion contrast multiplies
  std::vector<std::array<double, 6>> boxes;
  std::vector<Tissue> accepted;
  double weight = 0;  ///< relative frequency among lesions
  bool node = false;  ///< a lymph node: diameters capped at 20 mm
};

struct Anatomy {
  double length_mm = 0;                    ///< axial field of view
  std::vector<Shape> shapes;               ///< in paint order
  std::array<double, kTissueCount> suv{};  ///< uptake per tissue
  std::array<double, kTissueCount> mu{};   ///< 1/cm per tissue
  std::vector<LesionSite> sites;           ///< only those inside the field of view
  bool brain_in_view = false;
  std::map<std::string, double> numbers;  ///< habitus and uptakes worth recording
};

/// Draws every random anatomy parameter of a subject of `weight_kg` from `r`.
Anatomy draw_anatomy(const PhantomOptions& o, double weight_kg, Random& r);

/// Tissue labels (uint8) at the points whose coordinates x, y, z (mm, broadcastable float32
/// tensors of any shapes) give; the result has their broadcast shape.
torch::Tensor render_tissue(const Anatomy& a, const torch::Tensor& x, const torch::Tensor& y,
                            const torch::Tensor& z);

/// The voxels of a grid (increasing float32 axes x [W], y [H], z [D] of voxel centres) inside a
/// box (x0, x1, y0, y1, z0, z1 in mm): index ranges [begin, end) per axis.
struct GridBlock {
  std::array<int64_t, 2> x{0, 0}, y{0, 0}, z{0, 0};
  /// The block's view of a [D, H, W] volume (writes go to the volume).
  torch::Tensor of(const torch::Tensor& volume) const;
  bool empty() const;
};
GridBlock grid_block(const torch::Tensor& x, const torch::Tensor& y, const torch::Tensor& z,
                     const std::array<double, 6>& box);

/// render_tissue at every voxel centre of the grid: uint8 [D, H, W].
torch::Tensor render_tissue_on_grid(const Anatomy& a, const torch::Tensor& x, const torch::Tensor& y,
                                    const torch::Tensor& z);

}  // namespace unipet::sim::detail
