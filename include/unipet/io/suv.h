#pragma once
/// Body-weight SUV from the DICOM PET tags, computed the way trusted tools (QIBA, dcm2niix-style
/// checks) do it, and kept apart from file reading so it can be checked by hand.
///
///   unipet::io::SuvTags t;             // filled by read_dicom_series, or by hand
///   t.units = "BQML"; t.corrected_image = {"ATTN", "DECY"}; t.decay_correction = "START"; ...
///   unipet::io::SuvResult r = unipet::io::suv_factor(t);   // SUV = Bq/ml * r.factor
///
/// activity [Bq/ml] = stored * RescaleSlope + RescaleIntercept (per slice, done by the reader);
/// decayed dose [Bq] = RadionuclideTotalDose * 2^(-dt / RadionuclideHalfLife), dt from the
/// injection (RadiopharmaceuticalStartDateTime, or StartTime on SeriesDate) to SeriesDate/Time;
/// SUV = activity * PatientWeight [g] / decayed dose. DecayCorrection ADMIN: images are already
/// decay-corrected to the injection, so no decay term.
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace unipet::io {

/// The DICOM values SUV depends on, as found in the file (strings as stored, numbers parsed).
struct SuvTags {
  std::string source;                        ///< file the tags came from, for messages
  std::string units;                         ///< (0054,1001) Units: "BQML", "GML", "CNTS", ...
  std::vector<std::string> corrected_image;  ///< (0028,0051) CorrectedImage values
  std::string decay_correction;              ///< (0054,1102) "START", "ADMIN", "NONE"
  std::optional<double> total_dose_bq;       ///< (0018,1074) RadionuclideTotalDose, Bq
  std::optional<double> half_life_s;         ///< (0018,1075) RadionuclideHalfLife, s
  std::string injection_datetime;            ///< (0018,1078) RadiopharmaceuticalStartDateTime
  std::string injection_time;                ///< (0018,1072) RadiopharmaceuticalStartTime
  std::string series_date;                   ///< (0008,0021) SeriesDate, YYYYMMDD
  std::string series_time;                   ///< (0008,0031) SeriesTime, HHMMSS[.frac]
  std::optional<double> patient_weight_kg;   ///< (0010,1030) PatientWeight, kg
};

/// A factor with the tags and intermediate values it came from, for `unipet info`.
struct SuvResult {
  double factor = 1.0;           ///< multiply Bq/ml by this to get SUV (g/ml)
  double decayed_dose_bq = 0.0;  ///< dose at the reference time (0 when not computed)
  double elapsed_s = 0.0;        ///< injection to SeriesDate/Time (0 for ADMIN or GML)
  std::vector<std::pair<std::string, std::string>> used;  ///< "PatientWeight (0010,1030)" -> "75"
};

/// The body-weight SUV formula, its one home: SUV per Bq/ml = weight [kg] × 1000 g/kg / the dose
/// at scan time [Bq] (1 ml of tissue taken as 1 g). Throws unipet::Error when either is not
/// positive and finite.
double suv_per_bqml(double weight_kg, double dose_at_scan_bq);

/// Its inverse, Bq/ml per SUV unit: dose_at_scan_bq / (weight_kg × 1000), computed in this order
/// so that simulated images keep their bytes.
double bq_per_ml_per_suv(double dose_at_scan_bq, double weight_kg);

/// The body-weight SUV factor. Units GML means the voxels are SUV already: factor 1. Throws
/// unipet::Error, naming `tags.source` and the tag at fault, when a quantity is missing,
/// non-positive or inconsistent (units not BQML, no ATTN/DECY, decay correction NONE, injection
/// after the series). An injection time of day later than SeriesTime is never taken as the day
/// before: only a RadiopharmaceuticalStartDateTime can place the injection on another day.
SuvResult suv_factor(const SuvTags& tags);

/// Seconds since 1970-01-01 of a DICOM date (YYYYMMDD) and time (HHMMSS.ffffff, HH, HHMM), or of
/// a DT string (YYYYMMDDHHMMSS.ffffff) when `time` is empty; UTC offsets are ignored. Throws
/// unipet::Error naming `what` when malformed.
double dicom_seconds(const std::string& date, const std::string& time, const std::string& what);

}  // namespace unipet::io
