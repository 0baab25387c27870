#include "dicom_common.h"

#include <mutex>

#include <dcmtk/dcmdata/dcrledrg.h>
#include <dcmtk/dcmjpeg/djdecode.h>
#include <dcmtk/dcmjpls/djdecode.h>
#include <dcmtk/oflog/oflog.h>

namespace unipet::io::detail {

void init_dcmtk() {
  static std::once_flag once;
  std::call_once(once, [] {
    OFLog::configure(OFLogger::FATAL_LOG_LEVEL);
    DJDecoderRegistration::registerCodecs();
    DJLSDecoderRegistration::registerCodecs();
    DcmRLEDecoderRegistration::registerCodecs();
  });
}

std::string dicom_string(DcmItem& item, const DcmTagKey& tag, unsigned long index) {
  OFString value;
  if (item.findAndGetOFString(tag, value, index).bad()) return "";
  std::string s(value.c_str());
  const auto b = s.find_first_not_of(" \t\r\n");
  const auto e = s.find_last_not_of(" \t\r\n");
  return b == std::string::npos ? "" : s.substr(b, e - b + 1);
}

std::vector<std::string> dicom_strings(DcmItem& item, const DcmTagKey& tag) {
  std::vector<std::string> values;
  DcmElement* element = nullptr;
  if (item.findAndGetElement(tag, element).bad() || element == nullptr) return values;
  for (unsigned long i = 0; i < element->getVM(); ++i) values.push_back(dicom_string(item, tag, i));
  return values;
}

bool dicom_number(DcmItem& item, const DcmTagKey& tag, double& value, unsigned long index) {
  const std::string text = dicom_string(item, tag, index);
  if (text.empty()) return false;
  try {
    size_t used = 0;
    value = std::stod(text, &used);
    return used > 0;
  } catch (const std::exception&) {
    return false;
  }
}

}  // namespace unipet::io::detail
