#pragma once
// Internal to src/io: small dcmtk helpers shared by the DICOM reader and writer.
#include <string>
#include <vector>

#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmdata/dctk.h>

namespace unipet::io::detail {

/// Once per process: quiet dcmtk's logger (errors become unipet::Error instead) and register the
/// JPEG, JPEG-LS and RLE decoders so compressed slices can be read.
void init_dcmtk();

/// Value `index` of `tag` as a trimmed string; "" when absent.
std::string dicom_string(DcmItem& item, const DcmTagKey& tag, unsigned long index = 0);

/// Every value of a multi-valued string `tag` (e.g. CorrectedImage), trimmed.
std::vector<std::string> dicom_strings(DcmItem& item, const DcmTagKey& tag);

/// Value `index` of a numeric (DS/IS/US/...) `tag`; false when absent or unparseable.
bool dicom_number(DcmItem& item, const DcmTagKey& tag, double& value, unsigned long index = 0);

}  // namespace unipet::io::detail
