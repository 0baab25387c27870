#pragma once
/// Importers that describe real data with the simulator's dataset.json, so training and evaluation
/// read simulated and clinical datasets the same way.
///
///   unipet::io::UdpetImportOptions u;
///   u.root = "UDPET/"; u.out = "udpet/dataset.json";
///   unipet::io::Dataset ds = unipet::io::import_udpet(u);
///
///   unipet::io::PairsImportOptions p;                     // a plain folder of NIfTI pairs
///   p.full_pattern = "data/{id}_full.nii.gz";
///   p.low_patterns = {"data/{id}_drf{drf}.nii.gz"};  p.drfs = {4, 20};
///   p.out = "data/dataset.json";
///   unipet::io::import_pairs(p);
///
/// Every low-dose image must share the geometry of its subject's full-dose image (size, spacing,
/// origin, direction); a mismatch is an error naming both files. Images are Bq/ml.
#include <cstdint>
#include <string>
#include <vector>

#include "unipet/io/dataset.h"

namespace unipet::io {

/// How subjects are split. Deterministic: subjects are ordered by a hash of (seed, id), the first
/// round(n * test_fraction) go to "test", the next round(n * val_fraction) to "val", the rest to
/// "train"; adding a subject never moves the others between splits' hash order.
struct SplitOptions {
  double val_fraction = 0.1;   ///< in [0, 1)
  double test_fraction = 0.1;  ///< in [0, 1); val + test < 1
  uint64_t seed = 0;
};

/// Assigns `split` to every subject as SplitOptions describes. Throws unipet::Error on bad
/// fractions.
void assign_splits(std::vector<DatasetSubject>& subjects, const SplitOptions& options);

/// The Ultra-low Dose PET Imaging Challenge layout: ROOT/<patient>/ holds `Full_dose` and
/// `1-<k> dose` (k in 2, 4, 10, 20, 50, 100) either as DICOM folders (Siemens Quadra, United
/// Imaging) or as NIfTI files named the same (`Full_dose.nii.gz`, `1-4 dose.nii`). Names are
/// matched ignoring case, with space, underscore or hyphen as separator.
struct UdpetImportOptions {
  std::string root;                  ///< the folder holding one folder per patient
  std::string out = "dataset.json";  ///< dataset.json to write; converted images go beside it
  std::string name = "udpet";
  SplitOptions split;
  /// DICOM series are converted to NIfTI under <out folder>/images/<patient>/ (training reads
  /// NIfTI much faster than DICOM); NIfTI inputs are referenced where they are.
  bool convert_dicom = true;
};

/// Builds and writes the dataset; returns it. Throws unipet::Error naming the patient folder or
/// file at fault (no Full_dose, unreadable series, geometry mismatch, units other than Bq/ml).
Dataset import_udpet(const UdpetImportOptions& options);

/// A plain folder of NIfTI (or any supported image) pairs. Pattern syntax: a path in which
/// `{id}` stands for the subject id (one or more characters other than '/') and `*` for any
/// characters other than '/'; the full-dose pattern must contain `{id}` exactly once. Low-dose
/// patterns use `{id}` and may use `{drf}` (the DRF, written "4" or "2.5"): either one pattern
/// for every DRF, or one pattern per DRF in the order of `drfs`.
struct PairsImportOptions {
  std::string full_pattern;
  std::vector<std::string> low_patterns;
  std::vector<double> drfs;  ///< each > 1
  std::string out = "dataset.json";
  std::string name = "nifti-pairs";
  SplitOptions split;
};

/// Builds and writes the dataset; returns it. Throws unipet::Error when no file matches, when a
/// low-dose file is missing, or on a geometry mismatch (naming both files).
Dataset import_pairs(const PairsImportOptions& options);

/// The DRF named by a UDPET entry ("1-20 dose" -> 20, "Full_dose" -> 1), or 0 when the name is
/// not a dose entry. Extensions .nii / .nii.gz are ignored.
double udpet_drf_from_name(const std::string& name);

}  // namespace unipet::io
