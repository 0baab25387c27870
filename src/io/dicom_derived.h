// Internal to src/io: what makes a series "derived" in the standard's sense (PS3.3 C.7.6.1,
// C.12.1, C.12.2): the source's modules copied as present, and the references and provenance
// that say what made the new series and from which images.
#pragma once
#include <string>

#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmdata/dctk.h>

#include "unipet/io/provenance.h"

namespace unipet::io::detail {

/// Copies into `series` every attribute of the source slice's Patient, General Study, Patient
/// Study, General Series (but what identifies the series), Frame of Reference, General Equipment,
/// PET Series, PET Isotope, PET Multi-gated Acquisition and NM/PET Patient Orientation modules that
/// is present, with the source's earlier Contributing Equipment. Private attributes are not copied.
void copy_source_modules(DcmItem& source, DcmItem& series);

/// Copies the per-image attributes of the PET Image module (acquisition date and time, frame
/// timing, decay, dose calibration and sensitivity factors) from `source_slice` as present.
void copy_slice_timing(DcmItem& source_slice, DcmItem& slice);

/// Adds empty Type 2 attributes of the PET Image IOD that neither the source nor the writer set,
/// so a sparse source still gives a valid series (e.g. RadionuclideCodeSequence in each isotope).
void fill_type2(DcmItem& series);

/// The references of a series derived from `source` (a slice of the source series): Related
/// Series Sequence (purpose 121323, DCM), Derivation Description, Derivation Code Sequence and a
/// Contributing Equipment item (109102, DCM, "Processing Equipment") dated `now` (a DICOM DT).
void add_provenance(DcmItem& source, DcmItem& series, const Provenance& provenance, const std::string& now);

/// Adds an item naming one source instance to the Referenced Instance Sequence of the series'
/// Referenced Series Sequence (Common Instance Reference module), creating it when missing.
void add_referenced_instance(DcmItem& series, const std::string& source_series_uid, const std::string& sop_class,
                             const std::string& sop_instance);

/// Sets the Source Image Sequence of one slice: the source instance, purpose (121322, DCM,
/// "Source image for image processing operation").
void set_source_image(DcmItem& slice, const std::string& sop_class, const std::string& sop_instance);

/// Adds one coded item (Code Sequence Macro) to the sequence `tag` of `parent`.
void add_code(DcmItem& parent, const DcmTagKey& tag, const CodedConcept& code);

}  // namespace unipet::io::detail
