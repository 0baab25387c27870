#pragma once
/// Procedural whole-body FDG phantoms: a different anatomy for every seed.
///
///   unipet::sim::PhantomOptions o;                       // 128 x 128 x 96 voxels of 4 mm
///   unipet::sim::Phantom p = unipet::sim::generate_phantom(o, 42);
///   p.activity;   // Bq/ml        p.mumap;   // 1/cm at 511 keV        p.lesions; // 0, 1, 2, ...
///   torch::Tensor liver = p.organs.data == unipet::sim::organ_label("liver");
///
/// The anatomy runs along the axial field of view from the pelvis (slice 0, inferior, as LPS +z
/// is superior) to the base of the head: body contour with a fat layer over muscle, bladder,
/// kidneys (cortex and hotter pelvis), liver, spleen, lungs, heart (myocardium and blood pool),
/// spine (cortical bone around marrow), iliac bones, neck, arms, and a head whose brain (hot
/// cortex) enters the field of view depending on the subject. Patient +x is left, +y posterior.
/// Organs keep realistic transaxial sizes; their axial positions are fractions of the field of
/// view and their axial lengths are compressed when the field of view is shorter than a torso.
///
/// Grid independence: every random parameter is drawn first, as a description in millimetres
/// (shapes, uptakes, lesion centres and sizes, a texture lattice), and only then rendered at the
/// voxel centres. The same seed and field of view in mm therefore give the same subject at any
/// voxel size (e.g. 2 mm for a fine-grid simulation averaged down to 4 mm), with identical
/// lesion lists. The draws are portable (unipet/sim/random.h): the same bytes on any compiler.
///
/// Variation between subjects, with its rationale:
/// - Weight 50-120 kg (adult oncology patients). Body scale sqrt(weight / 75) within
///   0.85-1.25, +-5%; adiposity (0 slim .. 1 obese) follows weight loosely and sets the
///   subcutaneous fat layer (6-36 mm, +-15%) and the anterior-posterior / lateral ratio of the
///   torso (0.54-0.76: obese abdomens are rounder).
/// - Arms up out of the field of view (the usual whole-body position) with probability
///   arms_up_fraction, otherwise down at the sides (head-and-neck protocols, frail patients):
///   fat, muscle and humerus lateral to the torso, 2-20 mm from it. Torso and arms are shrunk
///   together if needed to fit 90% of the transaxial field of view (`numbers["fov_fit"]`).
/// - Organ sizes +-15% per axis, transaxial positions +-8 mm, axial positions +-4% of the field
///   of view for the whole body and +-1.5% per organ; bladder filling 0.6-1.4 x.
/// - Uptakes (SUV), typical FDG ranges: fat 0.3-0.5, muscle 0.6-1, lung 0.3-0.5, liver 1.8-2.8
///   (the PERCIST reference organ), spleen 1.6-2.4, blood pool 1.4-2.2, myocardium 1.5-12
///   (fasting and insulin make it anywhere from background to intense), kidney cortex 3-4.5,
///   renal pelvis 5-15 and bladder 5-60 (urine: hydration, voiding, time since injection),
///   marrow 1.3-2.4, white matter 2-3.5, brain cortex 5-12 (age, glycaemia). A smooth random
///   field multiplies them so organs have texture.
/// - Lesions (spheres and ellipsoids, log-uniform diameters, contrast over their host tissue's
///   uptake): liver, lung, spleen, bone (vertebrae and pelvis, over marrow) and lymph-node
///   stations (cervical, axillary, mediastinal/hilar, para-aortic, iliac, inguinal: nodes are
///   5-20 mm, in the fat and muscle of the station, contrast over muscle). A fraction
///   no_lesion_fraction of subjects has none (a dataset needs true negatives). The brain is left
///   free of lesions. Lesion centres are chosen in mm (rejection sampling of points of the host
///   tissue), never from voxels.
#include <array>
#include <cstdint>
#include <map>
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
  double min_lesion_mm = 5.0;     ///< lesion diameter range (lymph nodes: at most 20 mm)
  double max_lesion_mm = 30.0;
  double min_contrast = 1.5;      ///< lesion uptake over its host organ's
  double max_contrast = 8.0;
  double heterogeneity = 0.12;    ///< relative standard deviation of the smooth organ texture
  double texture_mm = 20.0;       ///< correlation length of that texture
  double arms_up_fraction = 0.7;  ///< share of subjects with the arms up, out of the field of view
  double no_lesion_fraction = 0.1;  ///< share of subjects without any lesion
  double dose_mbq_per_kg = 3.7;   ///< administered FDG activity per body weight
  double uptake_minutes = 60.0;   ///< injection to scan start (decay of F-18, T1/2 = 109.77 min)

  /// Throws unipet::Error naming the first invalid option.
  void validate() const;
};

/// One lesion as placed in the phantom.
struct PhantomLesion {
  int64_t label = 0;              ///< value in Phantom::lesions
  std::string organ;              ///< host: "liver", "lung", "spleen", "bone", "node_cervical",
                                  ///< "node_axillary", "node_mediastinal", "node_paraaortic",
                                  ///< "node_iliac" or "node_inguinal"
  double diameter_mm = 0;         ///< nominal diameter (log-uniform draw)
  double contrast = 0;            ///< uptake relative to host_suv
  double host_suv = 0;            ///< uptake (SUV) of the reference tissue: the host organ, marrow
                                  ///< for bone, muscle for nodes
  std::array<double, 3> centre_mm{0, 0, 0};      ///< world (x, y, z)
  std::array<double, 3> semi_axes_mm{0, 0, 0};   ///< along x, y, z
};

struct Phantom {
  Volume activity;                ///< Bq/ml at scan start, float32 [D, H, W]
  Volume mumap;                   ///< linear attenuation at 511 keV in 1/cm (units Unknown)
  Volume lesions;                 ///< 0 = background, k = lesion k (float32 labels)
  Volume organs;                  ///< tissue labels under the lesions (float32; organ_names())
  std::vector<PhantomLesion> lesion_list;
  double weight_kg = 0;
  double injected_dose_bq = 0;    ///< administered activity
  double dose_at_scan_bq = 0;     ///< administered activity decay-corrected to scan start (for SUV)
  bool brain_in_view = false;     ///< whether brain cortex is inside the field of view
  /// Per-subject anatomy worth recording (dataset.json): weight_kg, body_scale, fov_fit, fat_mm,
  /// adiposity, ap_lateral_ratio, arms_up (0/1), liver_suv, bladder_suv, brain_cortex_suv,
  /// myocardium_suv, blood_pool_suv, brain_in_view (0/1), lesions (count).
  std::map<std::string, double> numbers;
};

/// Names of the labels in Phantom::organs, indexed by label: "air", "fat", "muscle", "lung",
/// "liver", "spleen", "kidney_cortex", "kidney_pelvis", "myocardium", "blood_pool", "bladder",
/// "bone", "marrow", "white_matter", "cortex", "skull".
const std::vector<std::string>& organ_names();

/// The label of `name` in Phantom::organs; throws unipet::Error for an unknown name.
int64_t organ_label(const std::string& name);

/// Draws a phantom from `seed`; the same seed and options give the same bytes.
Phantom generate_phantom(const PhantomOptions& options, uint64_t seed);

}  // namespace unipet::sim
