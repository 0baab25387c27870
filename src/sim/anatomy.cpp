#include "anatomy.h"

#include <algorithm>
#include <cmath>

namespace unipet::sim::detail {

namespace {

constexpr double kFar = 1e9;  // the open end of a cylinder
constexpr double kPi = 3.14159265358979323846;
constexpr double kArmA = 38, kArmB = 44;  // upper-arm semi-axes (muscle and bone) per unit scale

/// An inner semi-axis `by` mm smaller than `a`, but never below half of it, so shells survive the
/// small bodies of small test fields of view.
double shrink(double a, double by) { return std::max(a - by, 0.5 * a); }

Shape ellipsoid(Tissue t, double cx, double cy, double cz, double ax, double ay, double az) {
  Shape s;
  s.tissue = t;
  s.centre = {cx, cy, cz};
  s.semi = {ax, ay, az};
  return s;
}

Shape cylinder(Tissue t, double cx, double cy, double ax, double ay, double z0, double z1) {
  Shape s;
  s.tissue = t;
  s.cylinder = true;
  s.centre = {cx, cy, 0};
  s.semi = {ax, ay, 1};
  s.z0 = z0;
  s.z1 = z1;
  return s;
}

Shape organ(Shape s) {
  s.inside_body = true;
  return s;
}

/// FDG uptakes (SUV) and attenuation (1/cm at 511 keV); the ranges are documented in phantom.h.
void draw_uptakes(Random& r, Anatomy& a) {
  auto& suv = a.suv;
  suv = {};
  suv[kFat] = r.uniform(0.3, 0.5);
  suv[kMuscle] = r.uniform(0.6, 1.0);
  suv[kLung] = r.uniform(0.3, 0.5);
  suv[kLiver] = r.uniform(1.8, 2.8);
  suv[kSpleen] = r.uniform(1.6, 2.4);
  suv[kKidneyCortex] = r.uniform(3.0, 4.5);
  suv[kKidneyPelvis] = r.uniform(5.0, 15.0);
  suv[kMyocardium] = r.uniform(1.5, 12.0);
  suv[kBloodPool] = r.uniform(1.4, 2.2);
  suv[kBladder] = r.uniform(5.0, 60.0);
  suv[kBone] = r.uniform(0.4, 0.7);
  suv[kMarrow] = r.uniform(1.3, 2.4);
  suv[kWhiteMatter] = r.uniform(2.0, 3.5);
  suv[kCortex] = r.uniform(5.0, 12.0);
  suv[kSkull] = r.uniform(0.4, 0.7);
  auto& mu = a.mu;
  mu = {};
  mu[kFat] = 0.090;
  for (Tissue t : {kMuscle, kLiver, kSpleen, kKidneyCortex, kKidneyPelvis, kMyocardium, kBloodPool, kBladder,
                   kWhiteMatter, kCortex}) {
    mu[t] = kSoftTissueMu;
  }
  mu[kLung] = r.uniform(0.025, 0.035);
  mu[kBone] = r.uniform(0.13, 0.17);
  mu[kSkull] = r.uniform(0.14, 0.17);
  mu[kMarrow] = 0.11;
  a.numbers["liver_suv"] = suv[kLiver];
  a.numbers["bladder_suv"] = suv[kBladder];
  a.numbers["brain_cortex_suv"] = suv[kCortex];
  a.numbers["myocardium_suv"] = suv[kMyocardium];
  a.numbers["blood_pool_suv"] = suv[kBloodPool];
}

using Box = std::array<double, 6>;

Box box_around(const Shape& s) {
  return {s.centre[0] - s.semi[0], s.centre[0] + s.semi[0], s.centre[1] - s.semi[1],
          s.centre[1] + s.semi[1], s.centre[2] - s.semi[2], s.centre[2] + s.semi[2]};
}

/// Adds a lesion site with its boxes clipped to the axial field of view; a site left with no box
/// (its organ outside the field of view) is dropped.
void add_site(Anatomy& a, LesionSite site, const std::vector<Box>& boxes) {
  for (Box b : boxes) {
    b[4] = std::max(b[4], 0.0);
    b[5] = std::min(b[5], a.length_mm);
    if (b[5] > b[4] && b[1] > b[0] && b[3] > b[2]) site.boxes.push_back(b);
  }
  if (!site.boxes.empty()) a.sites.push_back(std::move(site));
}

/// A subject's drawn habitus, fitted to the field of view: the frame of every structure (mm).
struct Body {
  double length = 0;     ///< axial field of view
  double adiposity = 0;  ///< 0 slim .. 1 obese
  double ap_ratio = 0;   ///< anterior-posterior over lateral semi-axis of the torso
  bool arms_up = false;
  double arm_shift = 0;    ///< vertical offset of the arms per unit scale
  double shift = 0;        ///< axial shift of every landmark, as a fraction of the field of view
  double phase = 0;        ///< of the torso's width variation along z
  double sb = 0, fit = 0;  ///< body scale, and the factor that fitted it into the field of view
  double fat = 0, arm_gap = 0, yc = 0;
  double a0 = 0, b0 = 0, cz = 0;  ///< torso semi-axes; axial size factor
  double neck_bottom = 0, neck_top = 0, neck_r = 0, neck_y = 0;
};

/// An axial landmark: a fraction of the field of view, shifted per subject and jittered (one draw).
double axial(const Body& b, Random& r, double fraction) {
  return (fraction + b.shift + r.uniform(-0.015, 0.015)) * b.length;
}

/// Draws the habitus and fits it to the transaxial field of view.
Body draw_body(const PhantomOptions& o, double weight_kg, double length, Random& r) {
  Body b;
  b.length = length;
  // Habitus. Adiposity (0 slim .. 1 obese) follows weight loosely; the subcutaneous fat layer
  // and a rounder (less elliptic) section follow adiposity.
  b.adiposity = std::clamp((weight_kg - 50) / 70 * 0.7 + r.uniform(0, 0.3), 0.0, 1.0);
  const double build = r.uniform(0.95, 1.05);
  b.ap_ratio = 0.58 + 0.14 * b.adiposity + r.uniform(-0.04, 0.04);
  const double fat_drawn = (6 + 30 * b.adiposity) * r.uniform(0.85, 1.15);
  b.arms_up = r.uniform() < o.arms_up_fraction;
  const double arm_gap_drawn = r.uniform(0, 15);
  b.arm_shift = r.uniform(-10, 10);
  const double yc_drawn = r.uniform(-5, 5);
  b.shift = r.uniform(-0.04, 0.04);
  b.phase = r.uniform(0, 2 * kPi);

  // Fit to the transaxial field of view: the torso within 90% of it, arms down within 96% (they
  // may come close to its edge). Every transaxial length is proportional to (scale, fat, arm
  // gap), so one factor shrinks torso and arms together: a large subject with the arms down
  // (about 65 cm across) becomes smaller in a 51 cm field of view.
  const double scale_drawn = std::clamp(std::sqrt(weight_kg / 75.0), 0.85, 1.25) * build;
  const double torso_half_width = 1.06 * 165 * scale_drawn;
  const double arms_half_width =
      torso_half_width + arm_gap_drawn + 2 * (kArmA * scale_drawn + 0.5 * fat_drawn);
  const double half_depth = std::max(165 * b.ap_ratio, 97.0) * scale_drawn + 5;
  const double fov_x = o.width * o.voxel_mm, fov_y = o.height * o.voxel_mm;
  b.fit = std::min({1.0, 0.45 * fov_x / torso_half_width, 0.45 * fov_y / half_depth,
                    b.arms_up ? 1.0 : 0.48 * fov_x / arms_half_width});
  b.sb = scale_drawn * b.fit;
  b.fat = fat_drawn * b.fit;
  b.arm_gap = arm_gap_drawn * b.fit;
  b.yc = yc_drawn * b.fit;
  b.a0 = 165 * b.sb;
  b.b0 = b.a0 * b.ap_ratio;
  // Positions along z are fractions of the field of view; axial sizes shrink with it (at most to
  // 0.6) so a 384 mm field shows the pelvis-to-head sequence.
  b.cz = std::clamp(length / 850.0, 0.6, 1.0);
  b.neck_bottom = axial(b, r, 0.84);
  b.neck_top = b.neck_bottom + 0.05 * length;
  b.neck_r = 55 * b.sb;
  b.neck_y = b.yc + 10 * b.sb;
  return b;
}

/// Torso and neck (fat over muscle, defining the body's inner region), arms down, head.
void add_body_outline(const Body& b, Anatomy& an) {
  auto& s = an.shapes;
  // Torso: an elliptic cylinder whose width varies slowly along z; fat over muscle.
  Shape torso = cylinder(kFat, 0, b.yc, b.a0, b.b0, -kFar, b.neck_bottom);
  torso.wobble = 0.06;
  torso.wobble_rate = 2 * kPi * 1.3 / b.length;
  torso.wobble_phase = b.phase;
  s.push_back(torso);
  torso.tissue = kMuscle;
  torso.semi[1] = shrink(b.b0, b.fat);
  torso.inset = std::min(b.fat, 0.5 * b.a0);
  torso.defines_inner = true;
  s.push_back(torso);
  s.push_back(cylinder(kFat, 0, b.neck_y, b.neck_r, b.neck_r, b.neck_bottom, b.neck_top + 20));
  const double neck_in = shrink(b.neck_r, 8);
  s.push_back(cylinder(kMuscle, 0, b.neck_y, neck_in, neck_in, b.neck_bottom, b.neck_top + 20));
  Shape neck_inner = cylinder(kMuscle, 0, b.neck_y, neck_in, neck_in, b.neck_bottom, b.neck_top);
  neck_inner.paint = false;
  neck_inner.defines_inner = true;
  s.push_back(neck_inner);

  // Arms down at the sides: fat over muscle around the humerus, from the shoulders down and
  // out of the field of view's bottom. Arms up lie above the head, outside the field of view.
  if (!b.arms_up) {
    const double ax = kArmA * b.sb, ay = kArmB * b.sb, shoulder = b.neck_bottom - 15 * b.cz;
    for (double side : {-1.0, 1.0}) {
      const double x = side * (1.06 * b.a0 + b.arm_gap + ax + 0.5 * b.fat), y = b.yc + b.arm_shift * b.sb;
      s.push_back(cylinder(kFat, x, y, ax + 0.5 * b.fat, ay + 0.5 * b.fat, -kFar, shoulder));
      s.push_back(cylinder(kMuscle, x, y, ax, ay, -kFar, shoulder));
      s.push_back(cylinder(kBone, x, y, 12 * b.sb, 12 * b.sb, -kFar, shoulder));
      s.push_back(cylinder(kMarrow, x, y, 7 * b.sb, 7 * b.sb, -kFar, shoulder));
    }
  }

  // Head: skull shell, hot cortex, white matter.
  const double sb = b.sb;
  const double hx = 72 * sb, hy = 92 * sb, hz = 95 * b.cz, hcz = b.neck_top + 0.8 * hz, hcy = b.yc + 5 * sb;
  s.push_back(ellipsoid(kSkull, 0, hcy, hcz, hx, hy, hz));
  s.push_back(ellipsoid(kCortex, 0, hcy, hcz, shrink(hx, 8), shrink(hy, 8), shrink(hz, 8)));
  s.push_back(ellipsoid(kWhiteMatter, 0, hcy, hcz, shrink(hx, 14), shrink(hy, 14), shrink(hz, 14)));
  an.brain_in_view = hcz - shrink(hz, 8) < b.length;
}

/// Where the organs landed: what the lesion sites are built from.
struct Organs {
  double lung_z = 0, kidney_z = 0, bladder_z = 0;
  std::vector<Box> lungs;
  Box liver{}, spleen{};
};

/// Organ sizes vary by +-15% per axis (one draw each), positions by +-8 mm scaled with the body.
double jitter(Random& r) { return r.uniform(0.85, 1.15); }

std::array<double, 3> jitters(Random& r) {
  std::array<double, 3> j{};
  for (double& v : j) v = jitter(r);
  return j;
}

double moved(const Body& b, Random& r) { return r.uniform(-8, 8) * b.sb; }

/// Lungs, liver, spleen, kidneys, heart and bladder. Draws are sequenced statement by statement, as
/// argument evaluation order is unspecified.
Organs add_organs(const Body& b, Random& r, std::vector<Shape>& s) {
  const double sb = b.sb, a0 = b.a0, b0 = b.b0, yc = b.yc, cz = b.cz;
  Organs g;
  g.lung_z = axial(b, r, 0.70);
  for (double side : {-1.0, 1.0}) {
    const auto j = jitters(r);
    const double dx = moved(b, r);
    // The apex is rounded and reaches the base of the neck (a lung cut flat by the torso's top
    // would also make organ volumes depend on the slice grid).
    const double az = 120 * cz * j[2], z = std::min(g.lung_z, b.neck_bottom - az);
    s.push_back(organ(
        ellipsoid(kLung, side * 0.46 * a0 + dx, yc + 5 * sb, z, 0.33 * a0 * j[0], 0.62 * b0 * j[1], az)));
    g.lungs.push_back(box_around(s.back()));
  }
  const double liver_z = axial(b, r, 0.53);
  const auto lj = jitters(r);
  const double liver_dx = moved(b, r), liver_dy = moved(b, r);
  s.push_back(organ(ellipsoid(kLiver, -0.4 * a0 + liver_dx, yc - 5 * sb + liver_dy, liver_z,
                              0.52 * a0 * lj[0], 0.72 * b0 * lj[1], 75 * cz * lj[2])));
  g.liver = box_around(s.back());
  const double spleen_z = axial(b, r, 0.53);
  const auto sj = jitters(r);
  const double spleen_dx = moved(b, r), spleen_dy = moved(b, r);
  s.push_back(organ(ellipsoid(kSpleen, 0.52 * a0 + spleen_dx, yc + 0.3 * b0 + spleen_dy, spleen_z,
                              0.2 * a0 * sj[0], 0.4 * b0 * sj[1], 55 * cz * sj[2])));
  g.spleen = box_around(s.back());
  g.kidney_z = axial(b, r, 0.40);
  for (double side : {-1.0, 1.0}) {
    const double kx = side * 0.36 * a0 + moved(b, r), ky = yc + 0.45 * b0,
                 kz = g.kidney_z + r.uniform(-10, 10);
    const double ax = 26 * sb * jitter(r), ay = 30 * sb * jitter(r), az = 55 * cz * jitter(r);
    s.push_back(organ(ellipsoid(kKidneyCortex, kx, ky, kz, ax, ay, az)));
    s.push_back(organ(ellipsoid(kKidneyPelvis, kx, ky, kz, shrink(ax, 9), shrink(ay, 9), shrink(az, 9))));
  }
  const double heart_x = 0.2 * a0 + moved(b, r), heart_y = yc - 0.3 * b0, heart_z = axial(b, r, 0.64);
  const double ha = 50 * sb * jitter(r), hb = 45 * sb * jitter(r), hc = 55 * cz * jitter(r);
  s.push_back(organ(ellipsoid(kMyocardium, heart_x, heart_y, heart_z, ha, hb, hc)));
  s.push_back(organ(
      ellipsoid(kBloodPool, heart_x, heart_y, heart_z, shrink(ha, 11), shrink(hb, 11), shrink(hc, 11))));
  const double bladder = r.uniform(0.6, 1.4);  // filling
  g.bladder_z = axial(b, r, 0.08);
  s.push_back(organ(ellipsoid(kBladder, 0, yc - 0.25 * b0, g.bladder_z, 45 * sb * bladder, 38 * sb * bladder,
                              40 * cz * bladder)));
  return g;
}

/// Where the bones landed: what the bone and node sites are built from.
struct Skeleton {
  double spine_y = 0, spine_r = 0, iliac_z = 0;
  std::vector<Box> bones;
};

/// Spine and iliac bones, cortical shell around marrow.
Skeleton add_skeleton(const Body& b, Random& r, std::vector<Shape>& s) {
  const double sb = b.sb, spine_y = b.yc + b.b0 - b.fat - 32 * sb, spine_r = 17 * sb;
  const double spine_bottom = axial(b, r, 0.12);
  s.push_back(organ(cylinder(kBone, 0, spine_y, spine_r, spine_r, spine_bottom, b.neck_top)));
  s.push_back(
      organ(cylinder(kMarrow, 0, spine_y, shrink(spine_r, 4), shrink(spine_r, 4), spine_bottom, b.neck_top)));
  Skeleton k{spine_y, spine_r, axial(b, r, 0.17), {}};
  k.bones = {{-spine_r, spine_r, spine_y - spine_r, spine_y + spine_r, spine_bottom, b.neck_top}};
  for (double side : {-1.0, 1.0}) {
    const double ix = side * 0.6 * b.a0, iy = b.yc + 0.2 * b.b0;
    s.push_back(organ(ellipsoid(kBone, ix, iy, k.iliac_z, 22 * sb, 45 * sb, 50 * b.cz)));
    k.bones.push_back(box_around(s.back()));
    s.push_back(organ(ellipsoid(kMarrow, ix, iy, k.iliac_z, 17 * sb, 40 * sb, 45 * b.cz)));
  }
  return k;
}

/// Lesion sites. Nodes sit in the fat and muscle of their stations (boxes from anatomical
/// landmarks); weights follow how often FDG-avid disease shows in each (staging and restaging
/// of lymphoma, lung and colorectal cancer).
void add_lesion_sites(const Body& b, const Organs& g, const Skeleton& k, Anatomy& an) {
  const double a0 = b.a0, b0 = b.b0, yc = b.yc, cz = b.cz, sb = b.sb;
  const double neck_r = b.neck_r, neck_y = b.neck_y, neck_bottom = b.neck_bottom, neck_top = b.neck_top;
  const std::vector<Tissue> soft = {kFat, kMuscle};
  add_site(an, {"liver", kLiver, {}, {kLiver}, 0.20, false}, {g.liver});
  add_site(an, {"lung", kLung, {}, {kLung}, 0.20, false}, g.lungs);
  add_site(an, {"spleen", kSpleen, {}, {kSpleen}, 0.07, false}, {g.spleen});
  add_site(an, {"bone", kMarrow, {}, {kMarrow, kBone}, 0.15, false}, k.bones);
  std::vector<Box> cervical, axillary, iliac, inguinal;
  for (double side : {-1.0, 1.0}) {
    auto span = [side](double lo, double hi) {
      return side < 0 ? std::array<double, 2>{-hi, -lo} : std::array<double, 2>{lo, hi};
    };
    const auto c = span(0.2 * neck_r, 0.8 * neck_r), ax = span(0.7 * a0, 0.95 * a0);
    const auto il = span(0.2 * a0, 0.45 * a0), in = span(0.2 * a0, 0.5 * a0);
    cervical.push_back(
        {c[0], c[1], neck_y - 0.6 * neck_r, neck_y + 0.3 * neck_r, neck_bottom, neck_top + 20});
    axillary.push_back({ax[0], ax[1], yc - 0.4 * b0, yc + 0.3 * b0, g.lung_z + 30 * cz, neck_bottom});
    iliac.push_back({il[0], il[1], yc - 0.2 * b0, yc + 0.3 * b0, k.iliac_z - 40 * cz, k.iliac_z + 40 * cz});
    inguinal.push_back(
        {in[0], in[1], yc - 0.95 * b0, yc - 0.6 * b0, g.bladder_z - 60 * cz, g.bladder_z + 10 * cz});
  }
  add_site(an, {"node_cervical", kMuscle, {}, soft, 0.06, true}, cervical);
  add_site(an, {"node_axillary", kMuscle, {}, soft, 0.07, true}, axillary);
  add_site(an, {"node_mediastinal", kMuscle, {}, soft, 0.10, true},
           {{-0.2 * a0, 0.2 * a0, yc - 0.35 * b0, yc + 0.35 * b0, g.lung_z - 60 * cz, g.lung_z + 60 * cz}});
  add_site(an, {"node_paraaortic", kMuscle, {}, soft, 0.06, true},
           {{-0.15 * a0, 0.15 * a0, k.spine_y - k.spine_r - 30 * sb, k.spine_y - k.spine_r - 3 * sb,
             g.kidney_z - 50 * cz, g.kidney_z + 50 * cz}});
  add_site(an, {"node_iliac", kMuscle, {}, soft, 0.05, true}, iliac);
  add_site(an, {"node_inguinal", kMuscle, {}, soft, 0.04, true}, inguinal);
}

}  // namespace

Anatomy draw_anatomy(const PhantomOptions& o, double weight_kg, Random& r) {
  // Helpers draw from `r` in a fixed order (uptakes, habitus, organs, skeleton): a seed keeps its subject.
  Anatomy an;
  an.length_mm = o.slices * o.slice_mm;
  draw_uptakes(r, an);
  const Body body = draw_body(o, weight_kg, an.length_mm, r);
  add_body_outline(body, an);
  const Organs organs = add_organs(body, r, an.shapes);
  const Skeleton skeleton = add_skeleton(body, r, an.shapes);
  add_lesion_sites(body, organs, skeleton, an);
  an.numbers["body_scale"] = body.sb;
  an.numbers["fov_fit"] = body.fit;
  an.numbers["fat_mm"] = body.fat;
  an.numbers["adiposity"] = body.adiposity;
  an.numbers["ap_lateral_ratio"] = body.ap_ratio;
  an.numbers["arms_up"] = body.arms_up ? 1.0 : 0.0;
  an.numbers["brain_in_view"] = an.brain_in_view ? 1.0 : 0.0;
  return an;
}

namespace {

torch::Tensor inside(const Shape& s, const torch::Tensor& x, const torch::Tensor& y, const torch::Tensor& z) {
  const torch::Tensor ry = ((y - s.centre[1]) / s.semi[1]).square();
  if (!s.cylinder) {
    return ((x - s.centre[0]) / s.semi[0]).square() + ry + ((z - s.centre[2]) / s.semi[2]).square() <= 1;
  }
  torch::Tensor rx;
  if (s.wobble != 0) {
    const torch::Tensor ax =
        s.semi[0] * (1 + s.wobble * torch::cos(z * s.wobble_rate + s.wobble_phase)) - s.inset;
    rx = ((x - s.centre[0]) / ax).square();
  } else {
    rx = ((x - s.centre[0]) / (s.semi[0] - s.inset)).square();
  }
  return (rx + ry <= 1) & (z >= s.z0) & (z < s.z1);
}

}  // namespace

torch::Tensor render_tissue(const Anatomy& a, const torch::Tensor& x, const torch::Tensor& y,
                            const torch::Tensor& z) {
  const std::vector<int64_t> sizes = at::infer_size(at::infer_size(x.sizes(), y.sizes()), z.sizes());
  torch::Tensor tissue = torch::zeros(sizes, torch::kUInt8);
  torch::Tensor inner = torch::zeros(sizes, torch::kBool);
  for (const Shape& s : a.shapes) {
    if (s.defines_inner) inner.logical_or_(inside(s, x, y, z));
  }
  for (const Shape& s : a.shapes) {
    if (!s.paint) continue;
    torch::Tensor mask = inside(s, x, y, z);
    if (s.inside_body) mask = mask & inner;
    tissue.masked_fill_(mask, static_cast<int64_t>(s.tissue));
  }
  return tissue;
}

GridBlock grid_block(const torch::Tensor& x, const torch::Tensor& y, const torch::Tensor& z,
                     const std::array<double, 6>& box) {
  // Indices of the increasing axis values within [lo, hi].
  auto range = [](const torch::Tensor& axis, double lo, double hi) {
    const float* v = axis.data_ptr<float>();
    const int64_t n = axis.numel();
    const int64_t begin = std::lower_bound(v, v + n, lo, [](float a, double b) { return a < b; }) - v;
    const int64_t end = std::upper_bound(v, v + n, hi, [](double b, float a) { return b < a; }) - v;
    return std::array<int64_t, 2>{begin, std::max(begin, end)};
  };
  GridBlock b;
  b.x = range(x, box[0], box[1]);
  b.y = range(y, box[2], box[3]);
  b.z = range(z, box[4], box[5]);
  return b;
}

torch::Tensor GridBlock::of(const torch::Tensor& volume) const {
  using torch::indexing::Slice;
  return volume.index({Slice(z[0], z[1]), Slice(y[0], y[1]), Slice(x[0], x[1])});
}

bool GridBlock::empty() const { return x[0] == x[1] || y[0] == y[1] || z[0] == z[1]; }

torch::Tensor render_tissue_on_grid(const Anatomy& a, const torch::Tensor& x, const torch::Tensor& y,
                                    const torch::Tensor& z) {
  torch::Tensor tissue = torch::zeros({z.numel(), y.numel(), x.numel()}, torch::kUInt8);
  torch::Tensor inner = torch::zeros_like(tissue, torch::kBool);
  // Each shape is evaluated only over the voxels of its bounding box: the same values as
  // render_tissue at those points, at a fraction of the cost for the organs.
  auto mask_in = [&](const Shape& s, const GridBlock& b) {
    return inside(s, x.slice(0, b.x[0], b.x[1]).view({1, 1, -1}), y.slice(0, b.y[0], b.y[1]).view({1, -1, 1}),
                  z.slice(0, b.z[0], b.z[1]).view({-1, 1, 1}));
  };
  auto bounds = [](const Shape& s) {
    if (!s.cylinder) return box_around(s);
    const double ax = s.semi[0] * (1 + std::fabs(s.wobble)) - s.inset;
    return Box{
        s.centre[0] - ax, s.centre[0] + ax, s.centre[1] - s.semi[1], s.centre[1] + s.semi[1], s.z0, s.z1};
  };
  for (const Shape& s : a.shapes) {
    if (!s.defines_inner) continue;
    const GridBlock b = grid_block(x, y, z, bounds(s));
    if (!b.empty()) b.of(inner).logical_or_(mask_in(s, b));
  }
  for (const Shape& s : a.shapes) {
    if (!s.paint) continue;
    const GridBlock b = grid_block(x, y, z, bounds(s));
    if (b.empty()) continue;
    torch::Tensor mask = mask_in(s, b);
    if (s.inside_body) mask = mask & b.of(inner);
    b.of(tissue).masked_fill_(mask, static_cast<int64_t>(s.tissue));
  }
  return tissue;
}

}  // namespace unipet::sim::detail
