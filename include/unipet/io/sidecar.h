#pragma once
/// JSON sidecars beside image files, as dcm2niix and PET-BIDS write them: where the SUV factor of
/// a NIfTI image comes from, and where unipet records what it made.
///
///   std::optional<unipet::io::Sidecar> s = unipet::io::read_sidecar("sub-01_pet.nii.gz");  // sub-01_pet.json
///   unipet::io::SuvResult r = unipet::io::sidecar_suv_factor(*s);       // SUV = Bq/ml * r.factor
///
/// Fields read (the first found wins):
///   units:     Units: "Bq/mL" (PET-BIDS) or "BQML" (dcm2niix); "g/mL", "GML" or "SUV" for SUV
///   activity:  InjectedRadioactivity with InjectedRadioactivityUnits (Bq, kBq, MBq, GBq, mCi, uCi),
///              or RadionuclideTotalDose (dcm2niix, Bq)
///   weight:    BodyWeight (PET-BIDS, kg) or PatientWeight (dcm2niix with -ba n, kg)
///   decay:     ImageDecayCorrected (PET-BIDS, true) with ImageDecayCorrectionTime and
///              InjectionStart (s from TimeZero); or DecayCorrection (dcm2niix): ADMIN means the
///              image is corrected to the injection (no decay term), START needs the PET-BIDS times
///   half-life: RadionuclideHalfLife (s), or TracerRadionuclide ("F18", "C11", "Ga68", ...)
#include <optional>
#include <string>
#include <vector>

#include "unipet/core/volume.h"
#include "unipet/io/provenance.h"
#include "unipet/io/suv.h"

namespace unipet::io {

/// "dir/x.nii.gz" -> "dir/x.json" (any image extension; a path without one gets ".json").
std::string sidecar_path(const std::string& image);

/// The SUV-related fields of a sidecar, as found (names as in the file, numbers parsed).
struct Sidecar {
  std::string path;
  std::string json;                      ///< the whole document, re-serialised
  std::string modality;                  ///< Modality, "" when absent
  std::string units;                     ///< Units as written
  std::optional<double> injected_bq;     ///< injected activity in Bq
  std::string injected_field;            ///< which field gave it, for messages
  std::optional<double> weight_kg;       ///< BodyWeight or PatientWeight
  std::optional<double> half_life_s;     ///< RadionuclideHalfLife or the TracerRadionuclide's
  std::string decay_correction;          ///< DecayCorrection (dcm2niix), "" when absent
  std::optional<bool> decay_corrected;   ///< ImageDecayCorrected (PET-BIDS)
  std::optional<double> decay_time_s;    ///< ImageDecayCorrectionTime - InjectionStart
};

/// Reads the sidecar of `image` when there is one (std::nullopt otherwise). Throws
/// unipet::Error, one line naming the JSON file, when it is not valid JSON, not an object, a
/// field has the wrong type, its Modality is not PT (it describes another series), its Units or
/// InjectedRadioactivityUnits are unknown.
std::optional<Sidecar> read_sidecar(const std::string& image);

/// The units the sidecar declares: Bq/ml, SUV, or Unknown when it has no Units.
Units sidecar_units(const Sidecar& sidecar);

/// The body-weight SUV factor from a sidecar (see the file comment), with `weight_kg` (--weight)
/// taking precedence over the sidecar's weight. Throws unipet::Error naming the JSON file and
/// the missing or impossible field (a weight or activity <= 0, an image not decay-corrected, a
/// START correction without the times, a decay time before the injection).
SuvResult sidecar_suv_factor(const Sidecar& sidecar, std::optional<double> weight_kg = std::nullopt);

/// The lines `unipet info` prints about a sidecar unipet wrote (what made the image, from which
/// sources, when, with which command); "" for a sidecar from elsewhere.
std::string describe_sidecar_provenance(const Sidecar& sidecar);

/// What sidecar_json records beside an output image.
struct SidecarContent {
  Units units = Units::Unknown;
  std::vector<std::string> sources;       ///< the inputs, as given
  Provenance provenance;
  const Sidecar* source_sidecar = nullptr;  ///< its SUV and tracer fields are carried over
  const SuvTags* source_tags = nullptr;     ///< or, for a DICOM source, the SUV tags as PET-BIDS fields
  std::optional<double> weight_kg;          ///< --weight, recorded as BodyWeight
};

/// The sidecar's JSON text: Modality, Units ("Bq/mL", "g/mL" for SUV), the SUV fields of the
/// source (so SUV can be computed from the output as from the input), Sources, and GeneratedBy
/// (name, version, description, command line, date and time in UTC) with the model file and its
/// sha256.
std::string sidecar_json(const SidecarContent& content);

}  // namespace unipet::io
