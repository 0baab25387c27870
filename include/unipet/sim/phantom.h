#pragma once
/// Procedural whole-body FDG phantoms: a different anatomy for every seed.
///
///   unipet::sim::PhantomOptions o;                       // 128 x 128 x 96 voxels of 4 mm
///   unipet::sim::Phantom p = unipet::sim::generate_phantom(o, 42);
///   p.activity;   // Bq/ml        p.mumap;   // 1/cm at 511 keV        p.lesions; // 0, 1, 2, ...
///
/// The anatomy runs along the axial field of view from the pelvis (slice 0, inferior, as LPS +z
/// is superior) to the base of the head: body contour with a fat layer over muscle, bladder,
/// kidneys (cortex and hotter pelvis), liver, spleen, lungs, heart (myocardium and blood pool),
/// spine (cortical bone around marrow), neck, and a head whose brain (hot cortex) enters the
/// field of view depending on the subject. Patient +x is left, +y posterior. Organs keep
/// realistic transaxial sizes; their axial positions are fractions of the field of view and their
/// axial lengths are compressed when the field of view is shorter than a torso, so every organ
/// appears in a default 384 mm study.
///
/// Activities are drawn as typical FDG SUVs (fat 0.3-0.5, muscle 0.6-1, lung 0.3-0.5, liver 2-2.6,
/// spleen 1.7-2.3, blood pool 1.5-2.1, myocardium 2-10, kidney cortex 3-4.5, bladder 10-40, marrow
/// 1.5-2.2, brain cortex 7-10) and converted to Bq/ml with the subject's dose at scan time and
/// weight; a smooth random field multiplies them so that organs have texture. Lesions (spheres
/// and ellipsoids, 5-30 mm, 1.5-8 x their host's uptake, log-uniform in size) sit in liver, lung,
/// spleen, marrow and muscle (nodes); the brain is left free of lesions.
#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "unipet/core/volume.h"

namespace unipet::sim {

struct PhantomOptions {
  int64_t width = 128;            ///< voxels along x (patient left)
  int64_t height = 128;           ///< voxels along y (posterior)
  int64_t slices = 96;            ///< voxels along z (superior)
  double voxel_mm = 4.0;          ///< transaxial voxel size
  double slice_mm = 4.0;          ///< axial voxel size
  int64_t min_lesions = 3;        ///< lesions per subject, drawn uniformly in [min, max]
  int64_t max_lesions = 8;
  double min_lesion_mm = 5.0;     ///< lesion diameter range
  double max_lesion_mm = 30.0;
  double min_contrast = 1.5;      ///< lesion uptake over its host organ's
  double max_contrast = 8.0;
  double heterogeneity = 0.12;    ///< relative standard deviation of the smooth organ texture
  double texture_mm = 20.0;       ///< correlation length of that texture
  double dose_mbq_per_kg = 3.7;   ///< administered FDG activity per body weight
  double uptake_minutes = 60.0;   ///< injection to scan start (decay of F-18, T1/2 = 109.77 min)

  /// Throws unipet::Error naming the first invalid option.
  void validate() const;
};

/// One lesion as placed in the phantom.
struct PhantomLesion {
  int64_t label = 0;              ///< value in Phantom::lesions
  std::string organ;              ///< host organ ("liver", "lung", ...)
  double diameter_mm = 0;         ///< mean diameter
  double contrast = 0;            ///< uptake relative to the host organ
  std::array<double, 3> centre_mm{0, 0, 0};  ///< world (x, y, z)
};

struct Phantom {
  Volume activity;                ///< Bq/ml at scan start, float32 [D, H, W]
  Volume mumap;                   ///< linear attenuation at 511 keV in 1/cm (units Unknown)
  Volume lesions;                 ///< 0 = background, k = lesion k (float32 labels)
  std::vector<PhantomLesion> lesion_list;
  double weight_kg = 0;
  double injected_dose_bq = 0;    ///< administered activity
  double dose_at_scan_bq = 0;     ///< administered activity decay-corrected to scan start (for SUV)
  bool brain_in_view = false;     ///< whether brain cortex is inside the field of view
};

/// Draws a phantom from `seed`; the same seed and options give the same bytes.
Phantom generate_phantom(const PhantomOptions& options, uint64_t seed);

/// Bq/ml per SUV unit: dose_at_scan_bq / (weight_kg * 1000 ml/kg).
double bq_per_ml_per_suv(double dose_at_scan_bq, double weight_kg);

}  // namespace unipet::sim
