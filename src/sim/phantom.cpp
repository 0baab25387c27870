#include "unipet/sim/phantom.h"

#include <algorithm>
#include <cmath>
#include <optional>

#include "anatomy.h"
#include "unipet/core/error.h"
#include "unipet/sim/random.h"
#include "unipet/io/suv.h"

namespace unipet::sim {

namespace {

using namespace detail;

constexpr double kHalfLifeMinutes = 109.77;  // F-18

/// Voxel-centre coordinates in mm, float32 axes x [W], y [H], z [D]: x, y centred on the scanner
/// axis, z from the bottom of the field of view (0) to its top.
struct Grid {
  torch::Tensor x, y, z;
};

torch::Tensor centres(int64_t n, double step, double start) {
  return (torch::arange(n, torch::kFloat64) * step + start).to(torch::kFloat32);
}

Grid make_grid(const PhantomOptions& o) {
  return {centres(o.width, o.voxel_mm, -0.5 * (o.width - 1) * o.voxel_mm),
          centres(o.height, o.voxel_mm, -0.5 * (o.height - 1) * o.voxel_mm),
          centres(o.slices, o.slice_mm, 0.5 * o.slice_mm)};
}

/// A point of the site's host tissue, by rejection: uniform candidates in its boxes, rendered as
/// single points (no grid involved). Empty if none of 128 candidates hits the tissue.
std::optional<std::array<double, 3>> lesion_centre(const Anatomy& a, const LesionSite& site, Random& r) {
  constexpr int64_t kBatch = 32;
  for (int round = 0; round < 4; ++round) {
    std::vector<float> xs(kBatch), ys(kBatch), zs(kBatch);
    for (int64_t i = 0; i < kBatch; ++i) {
      const auto& box =
          site.boxes[static_cast<size_t>(r.integer(0, static_cast<int64_t>(site.boxes.size()) - 1))];
      xs[i] = static_cast<float>(r.uniform(box[0], box[1]));
      ys[i] = static_cast<float>(r.uniform(box[2], box[3]));
      zs[i] = static_cast<float>(r.uniform(box[4], box[5]));
    }
    const torch::Tensor tissue = render_tissue(a, torch::tensor(xs), torch::tensor(ys), torch::tensor(zs));
    const uint8_t* t = tissue.data_ptr<uint8_t>();
    for (int64_t i = 0; i < kBatch; ++i) {
      if (std::find(site.accepted.begin(), site.accepted.end(), t[i]) != site.accepted.end()) {
        return std::array<double, 3>{xs[i], ys[i], zs[i]};
      }
    }
  }
  return std::nullopt;
}

/// Lesions in mm (centre z from the bottom of the field of view, converted to world z at the end).
std::vector<PhantomLesion> draw_lesions(const PhantomOptions& o, const Anatomy& a, Random& r) {
  std::vector<PhantomLesion> lesions;
  const bool none = r.uniform() < o.no_lesion_fraction;
  const int64_t count = r.integer(o.min_lesions, o.max_lesions);
  if (none || a.sites.empty()) return lesions;
  std::vector<double> weights;
  for (const LesionSite& site : a.sites) weights.push_back(site.weight);
  for (int64_t k = 0; k < count; ++k) {
    const LesionSite& site = a.sites[r.pick(weights)];
    const auto centre = lesion_centre(a, site, r);
    // Log-uniform diameters: small lesions are the common and the hard case.
    const double hi = site.node ? std::min(o.max_lesion_mm, 20.0) : o.max_lesion_mm;
    const double lo = std::min(o.min_lesion_mm, hi);
    const double d = std::exp(r.uniform(std::log(lo), std::log(hi)));
    std::array<double, 3> semi = {d / 2, d / 2, d / 2};
    if (r.uniform() >= 0.5) {
      for (double& axis : semi) axis *= r.uniform(0.6, 1.4);
    }
    const double contrast = r.uniform(o.min_contrast, o.max_contrast);
    if (!centre) continue;  // the host tissue is barely inside the field of view
    PhantomLesion lesion;
    lesion.label = static_cast<int64_t>(lesions.size()) + 1;
    lesion.organ = site.host;
    lesion.diameter_mm = d;
    lesion.contrast = contrast;
    lesion.host_suv = a.suv[site.reference];
    lesion.centre_mm = {(*centre)[0], (*centre)[1], (*centre)[2] - 0.5 * a.length_mm};
    lesion.semi_axes_mm = semi;
    lesions.push_back(lesion);
  }
  return lesions;
}

/// A smooth zero-mean, unit-variance random field with correlation length ~texture_mm: standard
/// normals on a lattice of texture_mm spacing anchored to the field of view's corner (so the
/// same for any voxel size), interpolated trilinearly at the voxel centres.
torch::Tensor texture(const PhantomOptions& o, const Grid& g, uint64_t seed) {
  const double step = o.texture_mm;
  struct Axis {
    torch::Tensor below, above, weight;
    int64_t nodes;
  };
  auto axis = [step](const torch::Tensor& coord, double lo, double extent) {
    const int64_t nodes = static_cast<int64_t>(std::floor(extent / step)) + 2;
    const torch::Tensor u = (coord.to(torch::kFloat64) - lo) / step;
    const torch::Tensor below = u.floor().clamp(0, static_cast<double>(nodes - 2)).to(torch::kLong);
    return Axis{below, below + 1, (u - below.to(torch::kFloat64)).to(torch::kFloat32), nodes};
  };
  const Axis z = axis(g.z, 0, o.slices * o.slice_mm);
  const Axis y = axis(g.y, -0.5 * o.height * o.voxel_mm, o.height * o.voxel_mm);
  const Axis x = axis(g.x, -0.5 * o.width * o.voxel_mm, o.width * o.voxel_mm);
  torch::Tensor field = normal_tensor({z.nodes, y.nodes, x.nodes}, seed);
  // Separable linear interpolation, one axis at a time; element-wise, so exact and thread-free.
  auto along = [](const torch::Tensor& t, int64_t dim, const Axis& a) {
    std::vector<int64_t> shape(3, 1);
    shape[static_cast<size_t>(dim)] = -1;
    const torch::Tensor w = a.weight.view(shape);
    return t.index_select(dim, a.below) * (1 - w) + t.index_select(dim, a.above) * w;
  };
  field = along(along(along(field, 2, x), 1, y), 0, z);
  // Linear interpolation of independent unit normals has variance prod (w^2 + (1 - w)^2), on
  // average (2/3)^3 over positions: a fixed divisor keeps the field grid-independent.
  return field / static_cast<float>(std::pow(2.0 / 3.0, 1.5));
}

/// Paints the lesions into suv, mu and the label map, each over the voxels of its bounding box. A
/// lesion smaller than a voxel still occupies the voxel holding its centre.
void paint_lesions(const PhantomOptions& o, const Grid& g, const std::vector<PhantomLesion>& lesions,
                   const torch::Tensor& body, torch::Tensor& suv, torch::Tensor& mu, torch::Tensor& labels) {
  const double half_length = 0.5 * o.slices * o.slice_mm;
  for (const PhantomLesion& l : lesions) {
    const double cx = l.centre_mm[0], cy = l.centre_mm[1], cz = l.centre_mm[2] + half_length;
    const auto& r = l.semi_axes_mm;
    auto index = [](double c, const torch::Tensor& axis, double step) {
      const double first = axis[0].item<double>();
      return std::clamp<int64_t>(std::llround((c - first) / step), 0, axis.numel() - 1);
    };
    const int64_t ix = index(cx, g.x, o.voxel_mm), iy = index(cy, g.y, o.voxel_mm),
                  iz = index(cz, g.z, o.slice_mm);
    GridBlock b =
        grid_block(g.x, g.y, g.z, {cx - r[0], cx + r[0], cy - r[1], cy + r[1], cz - r[2], cz + r[2]});
    // Grow the block to hold the centre's voxel.
    b.x = {std::min(b.x[0], ix), std::max(b.x[1], ix + 1)};
    b.y = {std::min(b.y[0], iy), std::max(b.y[1], iy + 1)};
    b.z = {std::min(b.z[0], iz), std::max(b.z[1], iz + 1)};
    const torch::Tensor x = g.x.slice(0, b.x[0], b.x[1]).view({1, 1, -1});
    const torch::Tensor y = g.y.slice(0, b.y[0], b.y[1]).view({1, -1, 1});
    const torch::Tensor z = g.z.slice(0, b.z[0], b.z[1]).view({-1, 1, 1});
    torch::Tensor mask =
        (((x - cx) / r[0]).square() + ((y - cy) / r[1]).square() + ((z - cz) / r[2]).square() <= 1) &
        b.of(body);
    mask.index_put_({iz - b.z[0], iy - b.y[0], ix - b.x[0]}, torch::tensor(true));
    b.of(suv).masked_fill_(mask, l.contrast * l.host_suv);
    b.of(mu).masked_fill_(mask, kSoftTissueMu);
    b.of(labels).masked_fill_(mask, static_cast<double>(l.label));
  }
}

torch::Tensor lookup(const std::array<double, kTissueCount>& table, const torch::Tensor& tissue) {
  return torch::tensor(std::vector<double>(table.begin(), table.end()), torch::kFloat64)
      .to(torch::kFloat32)
      .index({tissue.to(torch::kLong)});
}

}  // namespace

void PhantomOptions::validate() const {
  UNIPET_CHECK(width >= 8 && height >= 8 && slices >= 1,
               "--matrix / --slices: the phantom must be at least 8 x 8 x 1 voxels, got "
                   << width << " x " << height << " x " << slices);
  UNIPET_CHECK(voxel_mm > 0 && slice_mm > 0 && std::isfinite(voxel_mm) && std::isfinite(slice_mm),
               "--voxel and --slice-thickness must be > 0 mm");
  UNIPET_CHECK(min_lesions >= 0 && max_lesions >= min_lesions,
               "--lesions-min / --lesions-max: lesion count range [" << min_lesions << ", " << max_lesions
                                                                     << "] is invalid");
  UNIPET_CHECK(min_lesion_mm > 0 && max_lesion_mm >= min_lesion_mm,
               "PhantomOptions: lesion diameter range is invalid");
  UNIPET_CHECK(min_contrast > 0 && max_contrast >= min_contrast,
               "PhantomOptions: lesion contrast range is invalid");
  UNIPET_CHECK(heterogeneity >= 0 && heterogeneity < 0.5,
               "PhantomOptions: heterogeneity must be in [0, 0.5), got " << heterogeneity);
  UNIPET_CHECK(texture_mm > 0, "PhantomOptions: texture_mm must be > 0");
  UNIPET_CHECK(arms_up_fraction >= 0 && arms_up_fraction <= 1,
               "PhantomOptions: arms_up_fraction must be in [0, 1], got " << arms_up_fraction);
  UNIPET_CHECK(no_lesion_fraction >= 0 && no_lesion_fraction <= 1,
               "PhantomOptions: no_lesion_fraction must be in [0, 1], got " << no_lesion_fraction);
  UNIPET_CHECK(dose_mbq_per_kg > 0 && uptake_minutes >= 0,
               "PhantomOptions: dose per kg must be > 0 and uptake time >= 0");
}

const std::vector<std::string>& organ_names() {
  static const std::vector<std::string> names = {
      "air",           "fat",           "muscle",     "lung",       "liver",   "spleen",
      "kidney_cortex", "kidney_pelvis", "myocardium", "blood_pool", "bladder", "bone",
      "marrow",        "white_matter",  "cortex",     "skull"};
  return names;
}

int64_t organ_label(const std::string& name) {
  const auto& names = organ_names();
  const auto it = std::find(names.begin(), names.end(), name);
  UNIPET_CHECK(it != names.end(), "organ_label: no organ named '" << name << "'");
  return it - names.begin();
}

Phantom generate_phantom(const PhantomOptions& o, uint64_t seed) {
  o.validate();
  static_assert(kTissueCount == 16, "organ_names() lists every tissue");
  // Independent streams: the anatomy, the lesions and the texture do not shift one another.
  Random anatomy_rng(stream_seed(seed, 1)), lesion_rng(stream_seed(seed, 2));
  const uint64_t texture_seed = stream_seed(seed, 3);

  Phantom out;
  out.weight_kg = anatomy_rng.uniform(50, 120);
  out.injected_dose_bq = o.dose_mbq_per_kg * 1e6 * out.weight_kg;
  out.dose_at_scan_bq = out.injected_dose_bq * std::exp2(-o.uptake_minutes / kHalfLifeMinutes);
  const Anatomy anatomy = draw_anatomy(o, out.weight_kg, anatomy_rng);
  out.lesion_list = draw_lesions(o, anatomy, lesion_rng);
  out.brain_in_view = anatomy.brain_in_view;
  out.numbers = anatomy.numbers;
  out.numbers["weight_kg"] = out.weight_kg;
  out.numbers["lesions"] = static_cast<double>(out.lesion_list.size());

  // Everything random is drawn; now render it on this grid.
  const Grid g = make_grid(o);
  const torch::Tensor tissue = render_tissue_on_grid(anatomy, g.x, g.y, g.z);
  torch::Tensor suv = lookup(anatomy.suv, tissue);
  torch::Tensor mu = lookup(anatomy.mu, tissue);
  torch::Tensor labels = torch::zeros_like(suv);
  const torch::Tensor air = tissue == static_cast<int64_t>(kAir);
  paint_lesions(o, g, out.lesion_list, air.logical_not(), suv, mu, labels);
  suv = (suv * (1 + o.heterogeneity * texture(o, g, texture_seed))).clamp_min(0.0);
  suv.masked_fill_(air, 0.0);

  Volume geometry;
  geometry.spacing = {o.voxel_mm, o.voxel_mm, o.slice_mm};
  geometry.origin = {-0.5 * (o.width - 1) * o.voxel_mm, -0.5 * (o.height - 1) * o.voxel_mm,
                     -0.5 * (o.slices - 1) * o.slice_mm};
  geometry.data = suv * io::bq_per_ml_per_suv(out.dose_at_scan_bq, out.weight_kg);
  geometry.units = Units::BqPerMl;
  out.activity = geometry;
  out.mumap = with_geometry_of(geometry, mu);
  out.mumap.units = Units::Unknown;
  out.lesions = with_geometry_of(geometry, labels);
  out.lesions.units = Units::Unitless;
  out.organs = with_geometry_of(geometry, tissue.to(torch::kFloat32));
  out.organs.units = Units::Unitless;
  return out;
}

}  // namespace unipet::sim
