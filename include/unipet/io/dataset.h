#pragma once
/// `dataset.json`: the one description of a paired low-dose / full-dose dataset, simulated or real.
///
///   auto ds = unipet::io::read_dataset("data/dataset.json");
///   for (const auto* s : ds.subjects_in_split("train"))
///     unipet::Volume full = unipet::io::read_image(ds.resolve(s->full_dose));
///
/// Paths inside are relative to the folder holding dataset.json, so a dataset can be moved.
#include <map>
#include <string>
#include <vector>

#include "unipet/core/volume.h"

namespace unipet::io {

/// One subject (patient or simulated phantom).
struct DatasetSubject {
  std::string id;
  std::string split;                        ///< "train", "val" or "test"
  std::string full_dose;                    ///< relative path of the full-dose image
  std::map<double, std::string> low_dose;   ///< DRF -> relative path of the low-dose image
  std::map<std::string, std::string> images;  ///< other images by role: "activity", "mumap", "lesions"
  std::map<std::string, double> numbers;    ///< e.g. "injected_dose_bq", "weight_kg", "counts_full"
  std::map<std::string, std::string> strings;  ///< e.g. "source_dir", "scanner"
};

struct Dataset {
  std::string name;
  std::string source;                       ///< "simulated", "udpet", "nifti-pairs"
  Units units = Units::BqPerMl;             ///< units of the full- and low-dose images
  std::vector<double> drfs;                 ///< every DRF present, ascending
  std::map<std::string, double> numbers;    ///< study-level quantities, e.g. "seed", "voxel_mm"
  std::map<std::string, std::string> strings;  ///< study-level text, e.g. "tracer": "FDG"
  std::vector<DatasetSubject> subjects;
  std::string root;                         ///< folder of dataset.json (set by read_dataset)

  /// Subjects whose split is `split`, in file order.
  std::vector<const DatasetSubject*> subjects_in_split(const std::string& split) const;
  /// `relative` joined to `root`.
  std::string resolve(const std::string& relative) const;
};

/// SUV per unit of a subject's images: 1 for a dataset in SUV; for Bq/ml the subject's
/// `suv_per_bqml`, else weight_kg · 1000 / dose_at_scan_bq. Throws unipet::Error naming the
/// dataset and subject when neither is given or the units are not Bq/ml or SUV.
double subject_suv_factor(const Dataset& dataset, const DatasetSubject& subject);

/// Reads and validates dataset.json (format, version, every required field, unique ids, known
/// splits, DRFs > 1). Throws unipet::Error naming the file and the faulty field.
Dataset read_dataset(const std::string& path);

/// Writes dataset.json atomically (temporary file, then rename).
void write_dataset(const Dataset& dataset, const std::string& path);

/// "4", "20", "2.5": a DRF as people write it, in messages, reports and file names (drf_4.nii.gz).
std::string drf_text(double drf);

}  // namespace unipet::io
