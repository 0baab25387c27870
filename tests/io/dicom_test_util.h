#pragma once
// A minimal DICOM encoder for tests (explicit VR little endian), independent of unipet's writer
// and of dcmtk, so the reader is checked against files built byte by byte.
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

namespace unipet::test {

/// A dataset: (group, element) -> (VR, raw value bytes). Strings are padded when encoded.
class RawDicom {
 public:
  RawDicom& set(uint16_t group, uint16_t element, const std::string& vr, const std::string& value) {
    elements_[{group, element}] = {vr, value};
    return *this;
  }
  RawDicom& erase(uint16_t group, uint16_t element) {
    elements_.erase({group, element});
    return *this;
  }
  /// A sequence with one item holding `item`.
  RawDicom& set_sequence(uint16_t group, uint16_t element, const RawDicom& item) {
    const std::string body = item.encode_elements();
    return set(group, element, "SQ", tag(0xFFFE, 0xE000) + u32(static_cast<uint32_t>(body.size())) + body);
  }
  /// The dataset's elements, encoded.
  std::string encode_elements() const {
    std::string out;
    for (const auto& [key, value] : elements_) {
      const auto& [vr, raw] = value;
      std::string v = raw;
      if (v.size() % 2) v += vr == "UI" || vr == "OB" ? '\0' : ' ';
      out += tag(key.first, key.second) + vr;
      if (vr == "OB" || vr == "OW" || vr == "SQ" || vr == "UN" || vr == "UT")
        out += std::string(2, '\0') + u32(static_cast<uint32_t>(v.size()));
      else
        out += u16(static_cast<uint16_t>(v.size()));
      out += v;
    }
    return out;
  }
  /// Writes a Part 10 file: preamble, file meta information, then the dataset.
  void save(const std::string& path) const {
    RawDicom meta;
    meta.set(0x0002, 0x0001, "OB", std::string("\0\1", 2))
        .set(0x0002, 0x0002, "UI", get(0x0008, 0x0016))
        .set(0x0002, 0x0003, "UI", get(0x0008, 0x0018))
        .set(0x0002, 0x0010, "UI", "1.2.840.10008.1.2.1")
        .set(0x0002, 0x0012, "UI", "1.2.826.0.1.3680043.99.0.1");  // ImplementationClassUID (Type 1)
    const std::string meta_body = meta.encode_elements();
    std::ofstream out(path, std::ios::binary);
    out << std::string(128, '\0') << "DICM" << tag(0x0002, 0x0000) << "UL" << u16(4)
        << u32(static_cast<uint32_t>(meta_body.size())) << meta_body << encode_elements();
  }
  std::string get(uint16_t group, uint16_t element) const {
    auto it = elements_.find({group, element});
    return it == elements_.end() ? "" : it->second.second;
  }

  static std::string u16(uint16_t v) { return std::string(reinterpret_cast<const char*>(&v), 2); }
  static std::string u32(uint32_t v) { return std::string(reinterpret_cast<const char*>(&v), 4); }
  static std::string tag(uint16_t g, uint16_t e) { return u16(g) + u16(e); }

 private:
  std::map<std::pair<uint16_t, uint16_t>, std::pair<std::string, std::string>> elements_;
};

/// A Code Sequence Macro item: (value, scheme, meaning).
inline RawDicom code_item(const std::string& value, const std::string& scheme, const std::string& meaning) {
  RawDicom c;
  c.set(0x0008, 0x0100, "SH", value).set(0x0008, 0x0102, "SH", scheme).set(0x0008, 0x0104, "LO", meaning);
  return c;
}

/// One axial PET slice of `rows` x `columns` signed 16-bit pixels (value = stored), at z, with
/// the full set of SUV tags: 75 kg, 370 MBq F-18 at 10:00, series at 11:00, BQML, START; and
/// every other attribute the PET Image IOD requires but NumberOfSlices and SliceThickness, which
/// depend on the whole series (write_pet_series sets them), as a scanner writes them.
inline RawDicom pet_slice(const std::string& series_uid, int index, double z, int rows, int columns,
                          const std::vector<int16_t>& stored, double slope, double intercept) {
  RawDicom d;
  RawDicom isotope;
  isotope.set(0x0018, 0x1072, "TM", "100000")
      .set(0x0018, 0x1074, "DS", "370000000")
      .set(0x0018, 0x1075, "DS", "6586.2")
      .set(0x0018, 0x0031, "LO", "Fluorodeoxyglucose")
      .set_sequence(0x0054, 0x0300, code_item("77004003", "SCT", "^18^Fluorine"));
  RawDicom orientation = code_item("102538003", "SCT", "recumbent");
  orientation.set_sequence(0x0054, 0x0412, code_item("40199007", "SCT", "supine"));
  auto ds = [](double v) {
    char buf[32];
    std::snprintf(buf, sizeof(buf), "%.10g", v);
    return std::string(buf);
  };
  d.set(0x0008, 0x0008, "CS", "ORIGINAL\\PRIMARY")
      .set(0x0008, 0x0016, "UI", "1.2.840.10008.5.1.4.1.1.128")
      .set(0x0008, 0x0018, "UI", series_uid + ".1." + std::to_string(index))
      .set(0x0008, 0x0020, "DA", "20240315")
      .set(0x0008, 0x0021, "DA", "20240315")
      .set(0x0008, 0x0022, "DA", "20240315")
      .set(0x0008, 0x0030, "TM", "100000")
      .set(0x0008, 0x0031, "TM", "110000")
      .set(0x0008, 0x0032, "TM", "110500")  // per-slice acquisition time: must not be used
      .set(0x0008, 0x0050, "SH", "")
      .set(0x0008, 0x0060, "CS", "PT")
      .set(0x0008, 0x0070, "LO", "SIEMENS")
      .set(0x0008, 0x0090, "PN", "")
      .set(0x0008, 0x103E, "LO", "WB 3D test")
      .set(0x0010, 0x0010, "PN", "Test^Patient")
      .set(0x0010, 0x0020, "LO", "P001")
      .set(0x0010, 0x0030, "DA", "19600101")
      .set(0x0010, 0x0040, "CS", "F")
      .set(0x0010, 0x1030, "DS", "75")
      .set(0x0018, 0x0015, "CS", "WHOLEBODY")
      .set(0x0018, 0x0050, "DS", "")
      .set(0x0018, 0x1181, "CS", "NONE")
      .set(0x0018, 0x1242, "IS", "180000")
      .set(0x0020, 0x000D, "UI", "1.2.826.0.1.3680043.99.1")
      .set(0x0020, 0x000E, "UI", series_uid)
      .set(0x0020, 0x0010, "SH", "1")
      .set(0x0020, 0x0011, "IS", "3")
      .set(0x0020, 0x0013, "IS", std::to_string(index + 1))
      .set(0x0020, 0x0052, "UI", "1.2.826.0.1.3680043.99.2")
      .set(0x0020, 0x1040, "LO", "")
      .set(0x0020, 0x0032, "DS", "-100\\-80.5\\" + ds(z))
      .set(0x0020, 0x0037, "DS", "1\\0\\0\\0\\1\\0")
      .set(0x0028, 0x0002, "US", RawDicom::u16(1))
      .set(0x0028, 0x0004, "CS", "MONOCHROME2")
      .set(0x0028, 0x0010, "US", RawDicom::u16(static_cast<uint16_t>(rows)))
      .set(0x0028, 0x0011, "US", RawDicom::u16(static_cast<uint16_t>(columns)))
      .set(0x0028, 0x0030, "DS", "2.5\\2")  // row spacing (y) 2.5, column spacing (x) 2
      .set(0x0028, 0x0051, "CS", "DECY\\ATTN\\SCAT")
      .set(0x0028, 0x0100, "US", RawDicom::u16(16))
      .set(0x0028, 0x0101, "US", RawDicom::u16(16))
      .set(0x0028, 0x0102, "US", RawDicom::u16(15))
      .set(0x0028, 0x0103, "US", RawDicom::u16(1))
      .set(0x0028, 0x1052, "DS", ds(intercept))
      .set(0x0028, 0x1053, "DS", ds(slope))
      .set(0x0054, 0x1000, "CS", "WHOLE BODY\\IMAGE")
      .set(0x0054, 0x1001, "CS", "BQML")
      .set(0x0054, 0x1002, "CS", "EMISSION")
      .set(0x0054, 0x1102, "CS", "START")
      .set(0x0054, 0x1300, "DS", "0")
      .set(0x0054, 0x1321, "DS", "1")
      .set(0x0054, 0x1330, "US", RawDicom::u16(static_cast<uint16_t>(index + 1)))
      .set_sequence(0x0054, 0x0016, isotope)
      .set_sequence(0x0054, 0x0410, orientation)
      .set_sequence(0x0054, 0x0414, code_item("102540008", "SCT", "headfirst"))
      .set(0x7FE0, 0x0010, "OW",
           std::string(reinterpret_cast<const char*>(stored.data()), stored.size() * 2));
  return d;
}

/// Writes a whole series of `slices` slices (pet_slice's tags, `step` mm apart) as
/// folder/0.dcm, 1.dcm, ..., with NumberOfSlices and SliceThickness set, so that it passes
/// dciodvfy and dcentvfy. Slice k holds `values(k)` (rows x columns, stored) with RescaleSlope
/// `slope`; `edit` changes each slice before it is saved (a vendor's tags, a missing weight).
template <typename Values, typename Edit>
void write_pet_series(const std::string& folder, const std::string& series_uid, int slices, double step, int rows,
                      int columns, Values values, double slope, Edit edit) {
  std::filesystem::create_directories(folder);
  char thickness[32];
  std::snprintf(thickness, sizeof(thickness), "%g", step);
  for (int k = 0; k < slices; ++k) {
    RawDicom slice = pet_slice(series_uid, k, step * k, rows, columns, values(k), slope, 0);
    slice.set(0x0054, 0x0081, "US", RawDicom::u16(static_cast<uint16_t>(slices))).set(0x0018, 0x0050, "DS", thickness);
    edit(slice);
    slice.save(folder + "/" + std::to_string(k) + ".dcm");
  }
}

template <typename Values>
void write_pet_series(const std::string& folder, const std::string& series_uid, int slices, double step, int rows,
                      int columns, Values values, double slope) {
  write_pet_series(folder, series_uid, slices, step, rows, columns, values, slope, [](RawDicom&) {});
}

}  // namespace unipet::test
