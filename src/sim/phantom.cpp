#include "unipet/sim/phantom.h"

#include <algorithm>
#include <cmath>
#include <random>

#include <ATen/CPUGeneratorImpl.h>

#include "unipet/core/error.h"

namespace unipet::sim {

namespace {

constexpr double kHalfLifeMinutes = 109.77;  // F-18
constexpr double kSoftTissueMu = 0.096;       // 1/cm at 511 keV

enum Tissue : uint8_t {
  kAir, kFat, kMuscle, kLung, kLiver, kSpleen, kKidneyCortex, kKidneyPelvis, kMyocardium,
  kBloodPool, kBladder, kBone, kMarrow, kWhiteMatter, kCortex, kSkull, kTissueCount
};

struct Rng {
  explicit Rng(uint64_t seed) : engine(seed) {}
  double uniform(double lo, double hi) { return std::uniform_real_distribution<double>(lo, hi)(engine); }
  int64_t integer(int64_t lo, int64_t hi) {
    return std::uniform_int_distribution<int64_t>(lo, hi)(engine);
  }
  std::mt19937_64 engine;
};

/// Voxel-centre coordinates in mm: x, y centred on the scanner axis, z from the bottom of the
/// field of view (0) to its top (slices * slice_mm).
struct Grid {
  torch::Tensor x, y, z;
  double length_mm = 0;
};

Grid make_grid(const PhantomOptions& o) {
  auto axis = [](int64_t n, double step, double start) {
    return torch::arange(n, torch::kFloat32) * step + start;
  };
  torch::Tensor z = axis(o.slices, o.slice_mm, 0.5 * o.slice_mm);
  torch::Tensor y = axis(o.height, o.voxel_mm, -0.5 * (o.height - 1) * o.voxel_mm);
  torch::Tensor x = axis(o.width, o.voxel_mm, -0.5 * (o.width - 1) * o.voxel_mm);
  auto mesh = torch::meshgrid({z, y, x}, "ij");
  return {mesh[2], mesh[1], mesh[0], o.slices * o.slice_mm};
}

torch::Tensor ellipsoid(const Grid& g, double cx, double cy, double cz, double ax, double ay,
                        double az) {
  return ((g.x - cx) / ax).square() + ((g.y - cy) / ay).square() + ((g.z - cz) / az).square() <= 1;
}

torch::Tensor slab(const Grid& g, double z0, double z1) { return (g.z >= z0) & (g.z < z1); }

/// An inner semi-axis `by` mm smaller than `a`, but never below half of it, so shells survive the
/// small bodies of small test fields of view.
double shrink(double a, double by) { return std::max(a - by, 0.5 * a); }

/// A label map with per-label uptake (SUV) and attenuation (1/cm); later paints win.
struct Painter {
  torch::Tensor tissue;
  std::array<double, kTissueCount> suv{};
  std::array<double, kTissueCount> mu{};
  void paint(const torch::Tensor& mask, Tissue t) { tissue.masked_fill_(mask, static_cast<int64_t>(t)); }
  torch::Tensor is(Tissue t) const { return tissue == static_cast<int64_t>(t); }
  torch::Tensor lookup(const std::array<double, kTissueCount>& table) const {
    return torch::tensor(std::vector<double>(table.begin(), table.end()), torch::kFloat64)
        .to(torch::kFloat32)
        .index({tissue.to(torch::kLong)});
  }
};

void draw_uptakes(Rng& r, Painter& p) {
  p.suv = {};
  p.suv[kFat] = r.uniform(0.3, 0.5);
  p.suv[kMuscle] = r.uniform(0.6, 1.0);
  p.suv[kLung] = r.uniform(0.3, 0.5);
  p.suv[kLiver] = r.uniform(2.0, 2.6);
  p.suv[kSpleen] = r.uniform(1.7, 2.3);
  p.suv[kKidneyCortex] = r.uniform(3.0, 4.5);
  p.suv[kKidneyPelvis] = r.uniform(5.0, 12.0);
  p.suv[kMyocardium] = r.uniform(2.0, 10.0);
  p.suv[kBloodPool] = r.uniform(1.5, 2.1);
  p.suv[kBladder] = r.uniform(10.0, 40.0);
  p.suv[kBone] = r.uniform(0.4, 0.7);
  p.suv[kMarrow] = r.uniform(1.5, 2.2);
  p.suv[kWhiteMatter] = r.uniform(2.5, 3.5);
  p.suv[kCortex] = r.uniform(7.0, 10.0);
  p.suv[kSkull] = r.uniform(0.4, 0.7);
  p.mu = {};
  p.mu[kFat] = 0.090;
  for (Tissue t : {kMuscle, kLiver, kSpleen, kKidneyCortex, kKidneyPelvis, kMyocardium, kBloodPool,
                   kBladder, kWhiteMatter, kCortex}) {
    p.mu[t] = kSoftTissueMu;
  }
  p.mu[kLung] = r.uniform(0.025, 0.035);
  p.mu[kBone] = r.uniform(0.13, 0.17);
  p.mu[kSkull] = r.uniform(0.14, 0.17);
  p.mu[kMarrow] = 0.11;
}

/// Paints the anatomy; returns the inner (muscle) mask organs are confined to.
void paint_anatomy(const PhantomOptions& o, const Grid& g, Rng& r, Painter& p, double weight_kg) {
  const double L = g.length_mm;
  // Anatomy positions are fractions of the field of view; axial sizes shrink with it (at most to
  // 0.6) so a 384 mm field shows the pelvis-to-head sequence.
  const double cz = std::clamp(L / 850.0, 0.6, 1.0);
  const double shift = r.uniform(-0.04, 0.04);
  auto axial = [&](double fraction) { return (fraction + shift + r.uniform(-0.015, 0.015)) * L; };
  // Keep large bodies inside small test fields of view.
  const double fov_fit = std::min(1.0, 0.42 * std::min(o.width, o.height) * o.voxel_mm / 180.0);
  const double sb = std::clamp(std::sqrt(weight_kg / 75.0), 0.85, 1.2) * r.uniform(0.95, 1.05) * fov_fit;
  const double a0 = 165 * sb, b0 = 108 * sb, yc = r.uniform(-5, 5) * fov_fit;
  const double fat = r.uniform(8, 30) * sb;
  const double neck_bottom = axial(0.84), neck_top = neck_bottom + 0.05 * L;

  // Torso: an elliptic cylinder whose width varies slowly along z.
  const double phase = r.uniform(0, 2 * M_PI);
  torch::Tensor wobble = 1 + 0.06 * torch::cos(g.z / L * 2 * M_PI * 1.3 + phase);
  auto torso_mask = [&](double inset) {
    return ((g.x / (a0 * wobble - std::min(inset, 0.5 * a0))).square() + ((g.y - yc) / shrink(b0, inset)).square() <= 1) &
           (g.z < neck_bottom);
  };
  const torch::Tensor inner_torso = torso_mask(fat);
  p.paint(torso_mask(0), kFat);
  p.paint(inner_torso, kMuscle);
  const double neck_r = 55 * sb;
  const torch::Tensor neck_xy = (g.x.square() + (g.y - yc - 10 * sb).square());
  p.paint((neck_xy <= neck_r * neck_r) & slab(g, neck_bottom, neck_top + 20), kFat);
  p.paint((neck_xy <= shrink(neck_r, 8) * shrink(neck_r, 8)) & slab(g, neck_bottom, neck_top + 20), kMuscle);
  torch::Tensor inner = inner_torso | ((neck_xy <= shrink(neck_r, 8) * shrink(neck_r, 8)) & slab(g, neck_bottom, neck_top));

  // Head: skull shell, hot cortex, white matter.
  const double hx = 72 * sb, hy = 92 * sb, hz = 95 * cz, hcz = neck_top + 0.8 * hz;
  const double hcy = yc + 5 * sb;
  p.paint(ellipsoid(g, 0, hcy, hcz, hx, hy, hz), kSkull);
  p.paint(ellipsoid(g, 0, hcy, hcz, shrink(hx, 8), shrink(hy, 8), shrink(hz, 8)), kCortex);
  p.paint(ellipsoid(g, 0, hcy, hcz, shrink(hx, 14), shrink(hy, 14), shrink(hz, 14)), kWhiteMatter);

  auto organ = [&](const torch::Tensor& mask, Tissue t) { p.paint(mask & inner, t); };
  auto jitter = [&]() { return r.uniform(0.88, 1.12); };
  // Draws are sequenced statement by statement (argument evaluation order is unspecified), so a
  // seed gives the same anatomy whatever the compiler.
  auto jitters = [&]() { std::array<double, 3> j{}; for (double& v : j) v = jitter(); return j; };
  // Lungs, then the organs that displace them.
  const double lung_z = axial(0.70);
  for (double side : {-1.0, 1.0}) {
    const auto j = jitters();
    organ(ellipsoid(g, side * 0.46 * a0, yc + 5 * sb, lung_z, 0.33 * a0 * j[0], 0.62 * b0 * j[1],
                    120 * cz * j[2]),
          kLung);
  }
  const double liver_z = axial(0.53);
  const auto liver = jitters();
  organ(ellipsoid(g, -0.4 * a0, yc - 5 * sb, liver_z, 0.52 * a0 * liver[0], 0.72 * b0 * liver[1],
                  75 * cz * liver[2]),
        kLiver);
  const double spleen_z = axial(0.53);
  const auto spleen = jitters();
  organ(ellipsoid(g, 0.52 * a0, yc + 0.3 * b0, spleen_z, 0.2 * a0 * spleen[0], 0.4 * b0 * spleen[1],
                  55 * cz * spleen[2]),
        kSpleen);
  const double kidney_z = axial(0.40);
  for (double side : {-1.0, 1.0}) {
    const double kx = side * 0.36 * a0, ky = yc + 0.45 * b0, kz = kidney_z + r.uniform(-10, 10);
    const double ax = 26 * sb * jitter(), ay = 30 * sb * jitter(), az = 55 * cz * jitter();
    organ(ellipsoid(g, kx, ky, kz, ax, ay, az), kKidneyCortex);
    organ(ellipsoid(g, kx, ky, kz, shrink(ax, 9), shrink(ay, 9), shrink(az, 9)), kKidneyPelvis);
  }
  const double hx0 = 0.2 * a0, hy0 = yc - 0.3 * b0, hz0 = axial(0.64);
  const double ha = 50 * sb * jitter(), hb = 45 * sb * jitter(), hc = 55 * cz * jitter();
  organ(ellipsoid(g, hx0, hy0, hz0, ha, hb, hc), kMyocardium);
  organ(ellipsoid(g, hx0, hy0, hz0, shrink(ha, 11), shrink(hb, 11), shrink(hc, 11)), kBloodPool);
  const double bladder = r.uniform(0.7, 1.3);
  organ(ellipsoid(g, 0, yc - 0.25 * b0, axial(0.08), 45 * sb * bladder, 38 * sb * bladder,
                  40 * cz * bladder),
        kBladder);

  // Skeleton: spine and iliac bones, cortical shell around marrow.
  const double spine_y = yc + b0 - fat - 32 * sb, spine_r = 17 * sb;
  const torch::Tensor spine_xy = g.x.square() + (g.y - spine_y).square();
  const torch::Tensor spine_z = slab(g, axial(0.12), neck_top);
  organ((spine_xy <= spine_r * spine_r) & spine_z, kBone);
  organ((spine_xy <= shrink(spine_r, 4) * shrink(spine_r, 4)) & spine_z, kMarrow);
  const double iliac_z = axial(0.17);
  for (double side : {-1.0, 1.0}) {
    const double ix = side * 0.6 * a0, iy = yc + 0.2 * b0;
    organ(ellipsoid(g, ix, iy, iliac_z, 22 * sb, 45 * sb, 50 * cz), kBone);
    organ(ellipsoid(g, ix, iy, iliac_z, 17 * sb, 40 * sb, 45 * cz), kMarrow);
  }
}

/// A smooth zero-mean, unit-variance random field with correlation length ~texture_mm.
torch::Tensor smooth_field(const PhantomOptions& o, uint64_t seed) {
  auto coarse = [&](int64_t n, double step) {
    return std::max<int64_t>(2, static_cast<int64_t>(std::ceil(n * step / o.texture_mm)) + 1);
  };
  at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  torch::Tensor noise = at::randn({1, 1, coarse(o.slices, o.slice_mm), coarse(o.height, o.voxel_mm),
                                   coarse(o.width, o.voxel_mm)},
                                  gen, torch::TensorOptions().dtype(torch::kFloat32));
  namespace F = torch::nn::functional;
  torch::Tensor field =
      F::interpolate(noise, F::InterpolateFuncOptions()
                                .size(std::vector<int64_t>{o.slices, o.height, o.width})
                                .mode(torch::kTrilinear)
                                .align_corners(true))
          .squeeze();
  field = field.reshape({o.slices, o.height, o.width});
  const double mean = field.to(torch::kFloat64).mean().item<double>();
  const double sd = field.to(torch::kFloat64).std().item<double>();
  return (field - mean) / std::max(sd, 1e-6);
}

void place_lesions(const PhantomOptions& o, const Grid& g, Rng& r, Painter& p, Phantom& out,
                   torch::Tensor& suv, torch::Tensor& mu, torch::Tensor& labels) {
  struct Host { Tissue tissue; const char* name; double weight; };
  const std::vector<Host> hosts = {{kLiver, "liver", 0.25}, {kLung, "lung", 0.25},
                                   {kMarrow, "marrow", 0.15}, {kMuscle, "muscle", 0.2},
                                   {kSpleen, "spleen", 0.15}};
  std::vector<double> weights;
  for (const Host& h : hosts) weights.push_back(h.weight);
  std::discrete_distribution<size_t> pick(weights.begin(), weights.end());
  const int64_t count = r.integer(o.min_lesions, o.max_lesions);
  const torch::Tensor body = p.tissue != static_cast<int64_t>(kAir);
  for (int64_t k = 1; k <= count; ++k) {
    const Host& host = hosts[pick(r.engine)];
    const torch::Tensor where = p.is(host.tissue).flatten().nonzero();
    if (where.size(0) == 0) continue;  // organ outside this field of view
    const int64_t voxel = where[r.integer(0, where.size(0) - 1)][0].item<int64_t>();
    const double cx = g.x.flatten()[voxel].item<double>();
    const double cy = g.y.flatten()[voxel].item<double>();
    const double cz = g.z.flatten()[voxel].item<double>();
    // Log-uniform diameters: small lesions are the common and the hard case.
    const double d = std::exp(r.uniform(std::log(o.min_lesion_mm), std::log(o.max_lesion_mm)));
    const bool sphere = r.uniform(0, 1) < 0.5;
    double ax = d / 2, ay = d / 2, az = d / 2;
    if (!sphere) {
      ax *= r.uniform(0.6, 1.4);
      ay *= r.uniform(0.6, 1.4);
      az *= r.uniform(0.6, 1.4);
    }
    torch::Tensor mask = ellipsoid(g, cx, cy, cz, ax, ay, az) & body;
    mask.view(-1)[voxel] = true;  // a lesion smaller than a voxel still occupies its voxel
    const double contrast = r.uniform(o.min_contrast, o.max_contrast);
    suv.masked_fill_(mask, contrast * p.suv[host.tissue]);
    mu.masked_fill_(mask, kSoftTissueMu);
    const int64_t label = static_cast<int64_t>(out.lesion_list.size()) + 1;
    labels.masked_fill_(mask, static_cast<double>(label));
    const double world_z = cz - 0.5 * o.slices * o.slice_mm;
    out.lesion_list.push_back({label, host.name, d, contrast, {cx, cy, world_z}});
  }
}

}  // namespace

void PhantomOptions::validate() const {
  UNIPET_CHECK(width >= 8 && height >= 8 && slices >= 1,
               "--matrix / --slices: the phantom must be at least 8 x 8 x 1 voxels, got " << width << " x " << height
                                                                       << " x " << slices);
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
  UNIPET_CHECK(dose_mbq_per_kg > 0 && uptake_minutes >= 0,
               "PhantomOptions: dose per kg must be > 0 and uptake time >= 0");
}

double bq_per_ml_per_suv(double dose_at_scan_bq, double weight_kg) {
  UNIPET_CHECK(dose_at_scan_bq > 0 && weight_kg > 0,
               "SUV needs a positive dose and weight, got " << dose_at_scan_bq << " Bq and "
                                                            << weight_kg << " kg");
  return dose_at_scan_bq / (weight_kg * 1000.0);
}

Phantom generate_phantom(const PhantomOptions& o, uint64_t seed) {
  o.validate();
  // Two independent streams: anatomy (std engine) and texture (torch generator).
  std::seed_seq seq{static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32), 0x7068u};
  std::mt19937_64 seeder(seq);
  Rng r(seeder());
  const uint64_t texture_seed = seeder();

  Phantom out;
  out.weight_kg = r.uniform(55, 110);
  out.injected_dose_bq = o.dose_mbq_per_kg * 1e6 * out.weight_kg;
  out.dose_at_scan_bq = out.injected_dose_bq * std::exp2(-o.uptake_minutes / kHalfLifeMinutes);

  const Grid g = make_grid(o);
  Painter p;
  p.tissue = torch::zeros({o.slices, o.height, o.width}, torch::kUInt8);
  draw_uptakes(r, p);
  paint_anatomy(o, g, r, p, out.weight_kg);

  torch::Tensor suv = p.lookup(p.suv);
  torch::Tensor mu = p.lookup(p.mu);
  torch::Tensor labels = torch::zeros_like(suv);
  place_lesions(o, g, r, p, out, suv, mu, labels);

  const torch::Tensor field = smooth_field(o, texture_seed);
  suv = (suv * (1 + o.heterogeneity * field)).clamp_min(0.0);
  suv.masked_fill_(p.is(kAir), 0.0);
  out.brain_in_view = p.is(kCortex).any().item<bool>();

  Volume geometry;
  geometry.spacing = {o.voxel_mm, o.voxel_mm, o.slice_mm};
  geometry.origin = {-0.5 * (o.width - 1) * o.voxel_mm, -0.5 * (o.height - 1) * o.voxel_mm,
                     -0.5 * (o.slices - 1) * o.slice_mm};
  geometry.data = suv * bq_per_ml_per_suv(out.dose_at_scan_bq, out.weight_kg);
  geometry.units = Units::BqPerMl;
  out.activity = geometry;
  out.mumap = with_geometry_of(geometry, mu);
  out.mumap.units = Units::Unknown;
  out.lesions = with_geometry_of(geometry, labels);
  out.lesions.units = Units::Unitless;
  return out;
}

}  // namespace unipet::sim
