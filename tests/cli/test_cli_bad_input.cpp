// The bad-input catalogue: every case runs the real `unipet` binary on a file, folder or option
// that must be refused, and asserts exit status 1, exactly one "unipet: error:" line that names
// the file or option at fault, and a file system left exactly as it was (no output, no staging
// folder, no empty folder). README.md's "Bad input" section lists these cases.
#include <zlib.h>

#include <filesystem>
#include <map>
#include <functional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "cli/fs_snapshot.h"
#include "io/io_test_util.h"
#include "unipet/infer/model_calibration.h"
#include "unipet/io/dataset.h"
#include "unipet/io/dicom.h"
#include "unipet/io/image_io.h"
#include "unipet/nn/model_file.h"

namespace unipet::test {
namespace {

namespace fs = std::filesystem;

struct BadInput {
  std::string name;
  std::string args;                 ///< "{d}" stands for the case's folder
  std::vector<std::string> expect;  ///< parts of the error line ("{d}" replaced too)
  std::function<void(const fs::path&)> setup = [](const fs::path&) {};
};

std::string fill(std::string text, const fs::path& dir) {
  for (size_t at; (at = text.find("{d}")) != std::string::npos;) text.replace(at, 3, dir.string());
  return text;
}

void valid_nifti(const fs::path& d) { io::write_image(awkward_volume(), (d / "in.nii.gz").string()); }

void valid_dicom(const fs::path& d) { io::write_dicom_series(awkward_volume(), (d / "dicom").string()); }

std::string gzip(const std::string& bytes) {
  uLongf size = compressBound(bytes.size()) + 64;
  std::string out(size, '\0');
  z_stream s{};
  deflateInit2(&s, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
  s.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(bytes.data()));
  s.avail_in = static_cast<uInt>(bytes.size());
  s.next_out = reinterpret_cast<Bytef*>(out.data());
  s.avail_out = static_cast<uInt>(out.size());
  deflate(&s, Z_FINISH);
  out.resize(s.total_out);
  deflateEnd(&s);
  return out;
}

// A valid uncompressed NIfTI-1 file of `in.nii.gz`'s image, with `patch` applied to its bytes.
void nifti_with(const fs::path& d, const std::string& name, const std::function<void(std::string&)>& patch) {
  io::write_image(awkward_volume(), (d / "plain.nii").string());
  std::string bytes = read_bytes((d / "plain.nii").string());
  fs::remove(d / "plain.nii");
  patch(bytes);
  write_bytes((d / name).string(), bytes);
}

void put_float(std::string& bytes, size_t offset, float value) { std::memcpy(&bytes[offset], &value, 4); }

// A trained UniPET and a critic, committed with the CPU-profile results.
const std::string kModel = "'" + std::string(UNIPET_TEST_DATA_DIR) + "/../../results/cpu-profile/unipet/model_final.safetensors'";
const std::string kCritic = "'" + std::string(UNIPET_TEST_DATA_DIR) + "/../../results/cpu-profile/disc/critic_final.safetensors'";

// A copy of the trained model with a made-up noise-level calibration, for the commands that need one.
void calibrated_model(const fs::path& d) {
  valid_nifti(d);
  auto loaded = nn::load_unipet(std::string(UNIPET_TEST_DATA_DIR) + "/../../results/cpu-profile/unipet/model_final.safetensors");
  infer::ModelCalibration c;
  c.estimator = infer::DrfEstimator();
  c.estimator->coefficients = {30, 1, 0, 0, 0};
  c.estimator->residual_sd = 0.3;
  c.trained_drfs = {2, 100};
  auto metadata = loaded.metadata;
  for (const auto& [key, value] : c.metadata()) metadata[key] = value;
  nn::save_unipet((d / "cal.safetensors").string(), loaded.model, loaded.normalization, metadata);
}

// d/ds/dataset.json: one subject s1 of `split` at DRF 4, its images in `units`, with `numbers`.
void one_subject_dataset(const fs::path& d, const std::string& split, Units units,
                         const std::map<std::string, double>& numbers = {}) {
  fs::create_directories(d / "ds");
  io::write_image(awkward_volume(units), (d / "ds/s1_f.nii.gz").string());
  io::write_image(awkward_volume(units), (d / "ds/s1_l.nii.gz").string());
  io::Dataset ds;
  ds.name = "one";
  ds.source = "test";
  ds.drfs = {4};
  ds.units = units;
  ds.subjects.push_back({"s1", split, "s1_f.nii.gz", {{4.0, "s1_l.nii.gz"}}, {}, numbers, {}});
  io::write_dataset(ds, (d / "ds/dataset.json").string());
}

// A one-subject test split in SUV (its images are never read: every evaluate case below fails first)
// and two model files, for the evaluate cases that must fail before any prediction runs.
void evaluation_inputs(const fs::path& d) {
  one_subject_dataset(d, "test", Units::SUV);
  fs::copy_file(std::string(UNIPET_TEST_DATA_DIR) + "/../../results/cpu-profile/unipet/model_final.safetensors",
                d / "a.safetensors");
  fs::copy_file(d / "a.safetensors", d / "b.safetensors");
  fs::create_directories(d / "preds");
}

// A 16³ reference in SUV with a hot cube (big enough for the SSIM window), and the bad companions
// of `evaluate --pred --ref`: an all-zero image, an all-zero mask and a lesion image of fractions.
void pair_inputs(const fs::path& d) {
  Volume ref;
  ref.data = torch::ones({16, 16, 16});
  ref.data.narrow(0, 6, 3).narrow(1, 6, 3).narrow(2, 6, 3).fill_(8.0);
  ref.units = Units::SUV;
  io::write_image(ref, (d / "ref.nii.gz").string());
  io::write_image(with_geometry_of(ref, torch::zeros({16, 16, 16})), (d / "zero.nii.gz").string());
  Volume labels = with_geometry_of(ref, (ref.data > 4).to(torch::kFloat32) * 0.5);
  labels.units = Units::Unitless;
  io::write_image(labels, (d / "fractions.nii.gz").string());
  labels.data.zero_();
  io::write_image(labels, (d / "empty_mask.nii.gz").string());
}

const std::string kMha3d = "ObjectType = Image\nNDims = 3\nDimSize = 4 4 4\nElementType = MET_FLOAT\n";

std::vector<BadInput> catalogue() {
  const std::string tiny_sim = " --matrix 32 --slices 4 --voxel 14 --slice-thickness 24 --angles 16 --osem-subsets 4"
                               " --osem-iterations 1 --counts 1e6 --subjects 1";
  return {
      // --- image and model files (info reads, nothing is written) ---
      {"missing file", "info {d}/none.nii.gz", {"{d}/none.nii.gz", "no such file"}},
      {"empty NIfTI", "info {d}/empty.nii", {"{d}/empty.nii"}, [](auto& d) { write_bytes(d / "empty.nii", ""); }},
      {"text named .nii.gz", "info {d}/text.nii.gz", {"{d}/text.nii.gz"},
       [](auto& d) { write_bytes(d / "text.nii.gz", "this is not an image\n"); }},
      {"truncated NIfTI", "info {d}/cut.nii", {"{d}/cut.nii", "truncated"},
       [](auto& d) { nifti_with(d, "cut.nii", [](std::string& b) { b.resize(b.size() - 100); }); }},
      {"NaN in the NIfTI sform", "info {d}/sform.nii", {"{d}/sform.nii"},
       [](auto& d) {
         nifti_with(d, "sform.nii", [](std::string& b) {
           const short code = 2;
           std::memcpy(&b[254], &code, 2);  // sform_code
           put_float(b, 280, std::nanf(""));  // srow_x[0]
         });
       }},
      {"Inf in the NIfTI qform", "info {d}/qform.nii", {"{d}/qform.nii"},
       [](auto& d) {
         nifti_with(d, "qform.nii", [](std::string& b) {
           const short code = 1;
           std::memcpy(&b[252], &code, 2);  // qform_code
           put_float(b, 256, INFINITY);     // quatern_b
         });
       }},
      {"zero NIfTI pixdim", "info {d}/pixdim.nii", {"{d}/pixdim.nii"},
       [](auto& d) { nifti_with(d, "pixdim.nii", [](std::string& b) { put_float(b, 80, 0.0f); }); }},
      {"NIfTI vox_offset inside the header", "info {d}/offset.nii", {"{d}/offset.nii"},
       [](auto& d) { nifti_with(d, "offset.nii", [](std::string& b) { put_float(b, 108, 100.0f); }); }},
      {"gzip with a wrong CRC", "info {d}/crc.nii.gz", {"{d}/crc.nii.gz"},
       [](auto& d) {
         nifti_with(d, "plain.nii", [](std::string&) {});
         std::string z = gzip(read_bytes(d / "plain.nii"));
         fs::remove(d / "plain.nii");
         z[z.size() - 8] ^= 0x5a;  // the CRC32 in the gzip trailer
         write_bytes(d / "crc.nii.gz", z);
       }},
      {"unknown image extension", "info {d}/scan.png", {"{d}/scan.png"},
       [](auto& d) { write_bytes(d / "scan.png", "png"); }},
      {"2D image", "info {d}/flat.mha", {"{d}/flat.mha", "3D"},
       [](auto& d) { write_raw_mha(d / "flat.mha", {4, 4}, std::vector<float>(16, 1.0f)); }},
      {"4D image", "info {d}/time.mha", {"{d}/time.mha", "3D"},
       [](auto& d) { write_raw_mha(d / "time.mha", {4, 4, 4, 2}, std::vector<float>(128, 1.0f)); }},
      {"MetaImage LIST without files", "info {d}/list.mha", {"{d}/list.mha"},
       [](auto& d) { write_bytes(d / "list.mha", kMha3d + "ElementDataFile = LIST 2D\n"); }},
      {"MetaImage data file outside its folder", "info {d}/sub/escape.mhd", {"{d}/sub/escape.mhd", "--allow-external-data"},
       [](auto& d) {
         fs::create_directories(d / "sub");
         write_bytes(d / "secret.raw", std::string(256, '\1'));
         write_bytes(d / "sub/escape.mhd", kMha3d + "ElementDataFile = ../secret.raw\n");
       }},
      {"MetaImage data file missing", "info {d}/lost.mhd", {"{d}/lost.mhd"},
       [](auto& d) { write_bytes(d / "lost.mhd", kMha3d + "ElementDataFile = lost.raw\n"); }},
      {"NRRD declaring 1.4 G voxels in a tiny file", "info {d}/huge.nrrd", {"{d}/huge.nrrd"},
       [](auto& d) {
         write_bytes(d / "huge.nrrd",
                     "NRRD0004\ntype: float\ndimension: 3\nsizes: 1200 1200 1000\nencoding: raw\n\n" +
                         std::string(64, '\0'));
       }},
      {"NRRD data file outside its folder", "info {d}/sub/escape.nhdr", {"{d}/sub/escape.nhdr", "--allow-external-data"},
       [](auto& d) {
         fs::create_directories(d / "sub");
         write_bytes(d / "secret.raw", std::string(256, '\1'));
         write_bytes(d / "sub/escape.nhdr",
                     "NRRD0004\ntype: float\ndimension: 3\nsizes: 4 4 4\nencoding: raw\ndata file: ../secret.raw\n\n");
       }},
      {"folder without DICOM", "info {d}/nothing", {"{d}/nothing"}, [](auto& d) { fs::create_directories(d / "nothing"); }},
      {"DICOM folder of junk", "info {d}/junk", {"{d}/junk"},
       [](auto& d) {
         fs::create_directories(d / "junk");
         write_bytes(d / "junk/IM1.dcm", std::string(300, 'x'));
       }},
      {"model file of random bytes", "info {d}/bad.safetensors", {"{d}/bad.safetensors"},
       [](auto& d) { write_bytes(d / "bad.safetensors", std::string(100, '\x7f')); }},
      {"model header longer than the file", "info {d}/short.safetensors", {"{d}/short.safetensors"},
       [](auto& d) { write_bytes(d / "short.safetensors", std::string("\xff\xff\0\0\0\0\0\0{}", 10)); }},
      {"NaN voxels into a command that computes", "convert {d}/nan.mha {d}/out.nii.gz --to suv --suv-factor 1",
       {"{d}/nan.mha", "NaN"},
       [](auto& d) {
         std::vector<float> v(64, 1.0f);
         v[5] = std::nanf("");
         write_raw_mha(d / "nan.mha", {4, 4, 4}, v);
       }},
      // --- outputs that must never be replaced ---
      {"convert onto a folder named like a file", "convert {d}/in.nii.gz {d}/x.nii.gz", {"{d}/x.nii.gz", "folder"},
       [](auto& d) {
         valid_nifti(d);
         fs::create_directories(d / "x.nii.gz/keep");
         write_bytes(d / "x.nii.gz/keep/precious.txt", "patient data");
       }},
      {"convert onto its own input", "convert {d}/in.nii.gz {d}/in.nii.gz", {"{d}/in.nii.gz", "input"}, valid_nifti},
      {"convert into a non-empty DICOM folder", "convert {d}/in.nii.gz {d}/full", {"{d}/full", "not empty"},
       [](auto& d) {
         valid_nifti(d);
         fs::create_directories(d / "full");
         write_bytes(d / "full/notes.txt", "keep me");
       }},
      {"convert DICOM onto the folder holding it", "convert {d}/dicom {d}/dicom", {"{d}/dicom"}, valid_dicom},
      {"convert .mhd whose data file name is a folder", "convert {d}/in.nii.gz {d}/out.mhd", {"{d}/out.raw", "folder"},
       [](auto& d) {
         valid_nifti(d);
         fs::create_directories(d / "out.raw");
       }},
      {"convert into a missing folder", "convert {d}/in.nii.gz {d}/nowhere/out.nii.gz", {"{d}/nowhere", "does not exist"},
       valid_nifti},
      {"convert to an unknown format", "convert {d}/in.nii.gz {d}/out.png", {"{d}/out.png", "unknown image format"},
       valid_nifti},
      {"convert --to an unknown unit", "convert {d}/in.nii.gz {d}/out.nii.gz --to kelvin", {"--to"}, valid_nifti},
      {"convert to SUV without a factor", "convert {d}/in.nii.gz {d}/out.nii.gz --to suv", {"{d}/in.nii.gz", "--suv-factor"},
       valid_nifti},
      {"convert with a negative SUV factor", "convert {d}/in.nii.gz {d}/out.nii.gz --to suv --suv-factor -2",
       {"--suv-factor"}, valid_nifti},
      {"convert --series on a file", "convert {d}/in.nii.gz {d}/out.nii.gz --series 1.2.3", {"{d}/in.nii.gz", "--series"},
       valid_nifti},
      // --- import ---
      {"import udpet with the input folder as output", "import udpet {d}/root -o {d}/root", {"{d}/root"},
       [](auto& d) {
         fs::create_directories(d / "root/p1");
         io::write_image(awkward_volume(), (d / "root/p1/Full_dose.nii.gz").string());
         io::write_image(awkward_volume(), (d / "root/p1/1-4 dose.nii.gz").string());
       }},
      {"import udpet onto a folder named dataset.json", "import udpet {d}/root -o {d}/dataset.json",
       {"{d}/dataset.json"},
       [](auto& d) {
         fs::create_directories(d / "root/p1");
         fs::create_directories(d / "dataset.json");
       }},
      {"import udpet from a missing folder", "import udpet {d}/none -o {d}/out/dataset.json", {"{d}/none"}},
      {"import udpet finding no patient", "import udpet {d}/root -o {d}/new/dataset.json", {"no subjects"},
       [](auto& d) { fs::create_directories(d / "root/docs"); }},
      {"import udpet with a corrupt second patient", "import udpet {d}/root -o {d}/new/dataset.json",
       {"{d}/root/p2/1-4 dose"},
       [](auto& d) {
         fs::create_directories(d / "root/p1");
         io::write_dicom_series(awkward_volume(), (d / "root/p1/Full_dose").string());
         io::write_dicom_series(awkward_volume(), (d / "root/p1/1-4 dose").string());
         fs::create_directories(d / "root/p2/1-4 dose");
         io::write_dicom_series(awkward_volume(), (d / "root/p2/Full_dose").string());
         write_bytes(d / "root/p2/1-4 dose/IM1.dcm", std::string(300, 'x'));
       }},
      {"import pairs without {id}", "import pairs --full {d}/full.nii --low {d}/low.nii --drf 4 -o {d}/ds.json",
       {"--full", "{id}"}},
      {"import pairs with DRF 1", "import pairs --full '{d}/{id}_f.nii' --low '{d}/{id}_l.nii' --drf 1 -o {d}/ds.json",
       {"--drf"}},
      {"import pairs with a missing low dose", "import pairs --full '{d}/{id}_f.nii.gz' --low '{d}/{id}_l.nii.gz' --drf 4 -o {d}/ds.json",
       {"{d}/s1_l.nii.gz"},
       [](auto& d) { io::write_image(awkward_volume(), (d / "s1_f.nii.gz").string()); }},
      {"import pairs with impossible splits",
       "import pairs --full '{d}/{id}_f.nii.gz' --low '{d}/{id}_l.nii.gz' --drf 4 -o {d}/ds.json --val 0.6 --test 0.6",
       {"split"},
       [](auto& d) {
         io::write_image(awkward_volume(), (d / "s1_f.nii.gz").string());
         io::write_image(awkward_volume(), (d / "s1_l.nii.gz").string());
       }},
      {"import pairs output that is not .json", "import pairs --full '{d}/{id}_f.nii.gz' --low '{d}/{id}_l.nii.gz' --drf 4 -o {d}/s1_f.nii.gz",
       {"{d}/s1_f.nii.gz", ".json"},
       [](auto& d) {
         io::write_image(awkward_volume(), (d / "s1_f.nii.gz").string());
         io::write_image(awkward_volume(), (d / "s1_l.nii.gz").string());
       }},
      // --- simulate ---
      {"simulate into someone else's folder", "simulate --out {d}/mine" + tiny_sim, {"{d}/mine", "not part of a unipet"},
       [](auto& d) {
         fs::create_directories(d / "mine");
         write_bytes(d / "mine/thesis.tex", "years of work");
       }},
      {"simulate --out a file", "simulate --out {d}/file.txt" + tiny_sim, {"{d}/file.txt", "not a folder"},
       [](auto& d) { write_bytes(d / "file.txt", "x"); }},
      {"simulate DRFs with the same file name", "simulate --out {d}/s --drf 4,4.0000001" + tiny_sim, {"--drf", "drf_4"}},
      {"simulate DRF 1", "simulate --out {d}/s --drf 1" + tiny_sim, {"--drf"}},
      {"simulate negative counts", "simulate --out {d}/s --matrix 32 --counts -5", {"--counts"}},
      {"simulate 100000 threads", "simulate --out {d}/s --threads 100000", {"--threads"}},
      {"simulate a huge matrix", "simulate --out {d}/s --matrix 200000", {"--matrix"}},
      {"simulate splits that do not sum to 1", "simulate --out {d}/s --split 0.5,0.4,0.4", {"--split"}},
      {"simulate a negative seed", "simulate --out {d}/s --seed -1" + tiny_sim, {"--seed"}},
      {"simulate a DRF that leaves no counts", "simulate --out {d}/s --drf 1e9" + tiny_sim, {"--drf", "1e+09"}},
      {"demo a DRF that leaves no counts", "demo --out {d}/demo --drf 4,1e9", {"--drf", "1e+09"}},
      {"speed a volume no machine holds", "speed --size 512", {"--size 512", "GB of memory"}},
      {"speed a negative seed", "speed --size 16 --seed -1", {"--seed"}},
      {"simulate a seed above 2^53", "simulate --out {d}/s --seed 1152921504606846976", {"--seed"}},
      {"simulate zero OSEM iterations", "simulate --out {d}/s --osem-iterations 0", {"--osem-iterations"}},
      {"simulate zero OSEM iterations, older spelling", "simulate --out {d}/s --iterations 0", {"--osem-iterations"}},
      {"simulate both spellings of the OSEM iterations", "simulate --out {d}/s --iterations 2 --osem-iterations 3",
       {"--iterations", "--osem-iterations"}},
      {"simulate val and test fractions above 1", "simulate --out {d}/s --val 0.6 --test 0.6", {"--val 0.6", "--test 0.6"}},
      {"simulate a negative test fraction", "simulate --out {d}/s --test -0.1", {"--test"}},
      {"simulate both spellings of the split", "simulate --out {d}/s --split 1,0,0 --val 0.2", {"--split", "--val"}},
      {"simulate a negative TOF resolution", "simulate --out {d}/s --tof -5" + tiny_sim, {"--tof"}},
      {"simulate oversampling 0", "simulate --out {d}/s --oversampling 0" + tiny_sim, {"--oversampling"}},
      {"simulate a resolution model of -1", "simulate --out {d}/s --psf-model -1" + tiny_sim, {"--psf-model"}},
      {"simulate a 90% scatter error", "simulate --out {d}/s --scatter-error 0.9" + tiny_sim, {"--scatter-error"}},
      {"simulate a negative axial resolution", "simulate --out {d}/s --psf-axial -1" + tiny_sim, {"--psf-axial", "-1"}},
      {"simulate a 1e9 mm axial resolution (memory)", "simulate --out {d}/s --psf-axial 1e9" + tiny_sim,
       {"--psf-axial", "[0, 50]"}},
      {"simulate a NaN resolution", "simulate --out {d}/s --psf nan" + tiny_sim, {"--psf ", "nan"}},
      {"simulate a 1e9 mm post-filter (memory)", "simulate --out {d}/s --post-filter 1e9" + tiny_sim, {"--post-filter"}},
      {"simulate a 1e9 mm mu-map blur (memory)", "simulate --out {d}/s --mumap-blur 1e9" + tiny_sim, {"--mumap-blur"}},
      {"simulate a 1e9 mm scatter estimate (memory)", "simulate --out {d}/s --scatter-estimate-fwhm 1e9" + tiny_sim,
       {"--scatter-estimate-fwhm", "[0, 1000]"}},
      {"simulate a 1e9 mm randoms smoothing (memory)", "simulate --out {d}/s --randoms-smoothing 1e9" + tiny_sim,
       {"--randoms-smoothing"}},
      {"simulate --vary with a user's image", "simulate --out {d}/s --vary --from-image {d}/in.nii.gz", {"--vary"}},
      {"simulate from a missing image", "simulate --out {d}/s --from-image {d}/none.nii.gz" + tiny_sim,
       {"{d}/none.nii.gz"}},
      {"simulate a mu-map with two images", "simulate --out {d}/s --from-image {d}/in.nii.gz --from-image {d}/in.nii.gz --mumap {d}/in.nii.gz",
       {"--mumap"}, valid_nifti},
      // --- denoise ---
      {"denoise with a missing model", "denoise -i {d}/in.nii.gz -o {d}/out.nii.gz -m {d}/none.safetensors --suv-factor 1",
       {"{d}/none.safetensors"}, valid_nifti},
      {"denoise with a critic as the model", "denoise -i {d}/in.nii.gz -o {d}/out.nii.gz --suv-factor 1 -m " + kCritic,
       {"critic_final.safetensors", "Discriminator"}, valid_nifti},
      {"denoise NaN voxels", "denoise -i {d}/nan.mha -o {d}/out.nii.gz --input-units suv -m " + kModel,
       {"{d}/nan.mha", "NaN"}, [](auto& d) { write_raw_mha((d / "nan.mha").string(), {2, 2, 2}, {1, 2, NAN, 4, 5, 6, 7, 8}); }},
      {"denoise Bq/ml without an SUV factor", "denoise -i {d}/in.nii.gz -o {d}/out.nii.gz -m " + kModel,
       {"{d}/in.nii.gz", "--suv-factor"}, valid_nifti},
      {"denoise an image without units", "denoise -i {d}/plain.nii.gz -o {d}/out.nii.gz -m " + kModel,
       {"{d}/plain.nii.gz", "--input-units"},
       [](auto& d) { io::write_image(awkward_volume(Units::Unknown), (d / "plain.nii.gz").string()); }},
      {"denoise SUV declared over Bq/ml", "denoise -i {d}/in.nii.gz -o {d}/out.nii.gz --input-units suv -m " + kModel,
       {"{d}/in.nii.gz", "--input-units"}, valid_nifti},
      {"denoise --uncertainty without --tta", "denoise -i {d}/in.nii.gz -o {d}/out.nii.gz --uncertainty {d}/u.nii.gz -m " + kModel,
       {"--uncertainty", "--tta"}, valid_nifti},
      {"denoise with 4-voxel tiles", "denoise -i {d}/in.nii.gz -o {d}/out.nii.gz --suv-factor 1 --tile 4 -m " + kModel,
       {"--tile"}, valid_nifti},
      {"denoise with overlap 1.5", "denoise -i {d}/in.nii.gz -o {d}/out.nii.gz --suv-factor 1 --overlap 1.5 -m " + kModel,
       {"--overlap"}, valid_nifti},
      {"denoise with background 2", "denoise -i {d}/in.nii.gz -o {d}/out.nii.gz --suv-factor 1 --background 2 -m " + kModel,
       {"--background"}, valid_nifti},
      {"denoise in float16 on the CPU", "denoise -i {d}/in.nii.gz -o {d}/out.nii.gz --suv-factor 1 --device cpu --precision fp16 -m " + kModel,
       {"--precision"}, valid_nifti},
      {"denoise with a negative SUV factor", "denoise -i {d}/in.nii.gz -o {d}/out.nii.gz --suv-factor -1 -m " + kModel,
       {"--suv-factor"}, valid_nifti},
      {"denoise with an SUV factor for an SUV image", "denoise -i {d}/suv.nii.gz -o {d}/out.nii.gz --suv-factor 0.5 -m " + kModel,
       {"--suv-factor", "{d}/suv.nii.gz", "already in SUV"},
       [](auto& d) { io::write_image(awkward_volume(Units::SUV), (d / "suv.nii.gz").string()); }},
      {"denoise with a weight for an SUV image", "denoise -i {d}/suv.nii.gz -o {d}/out.nii.gz --weight 70 -m " + kModel,
       {"--weight", "{d}/suv.nii.gz"},
       [](auto& d) { io::write_image(awkward_volume(Units::SUV), (d / "suv.nii.gz").string()); }},
      {"denoise with an SUV factor of 1e300", "denoise -i {d}/in.nii.gz -o {d}/out.nii.gz --suv-factor 1e300 -m " + kModel,
       {"--suv-factor", "{d}/in.nii.gz"}, valid_nifti},
      {"denoise with a tile no machine holds", "denoise -i {d}/in.nii.gz -o {d}/out.nii.gz --suv-factor 1 --tile 512 -m " + kModel,
       {"--tile 512", "GB of memory"}, valid_nifti},
      {"denoise a missing image with the default model", "denoise -i {d}/none.nii.gz -o {d}/out.nii.gz",
       {"{d}/none.nii.gz"}},
      {"denoise a list naming a missing study", "denoise -i {d}/list.txt -o {d}/out -m " + kModel,
       {"{d}/list.txt:3", "none.nii.gz"},
       [](auto& d) {
         valid_nifti(d);
         write_bytes((d / "list.txt").string(), "in.nii.gz\n# a comment\nnone.nii.gz\n");
       }},
      {"denoise studies into a file", "denoise -i {d}/list.txt -o {d}/in.nii.gz -m " + kModel,
       {"{d}/in.nii.gz", "not a folder"},
       [](auto& d) {
         valid_nifti(d);
         write_bytes((d / "list.txt").string(), "in.nii.gz\n");
       }},
      {"denoise studies in an unknown format", "denoise -i {d}/list.txt -o {d}/out --format png -m " + kModel,
       {"--format", "png"},
       [](auto& d) {
         valid_nifti(d);
         write_bytes((d / "list.txt").string(), "in.nii.gz\n");
       }},
      {"denoise with --blend maybe", "denoise -i {d}/in.nii.gz -o {d}/out.nii.gz --suv-factor 1 --blend maybe -m " + kModel,
       {"--blend"}, valid_nifti},
      // --- estimate-drf ---
      {"estimate-drf a missing scan", "estimate-drf {d}/none.nii.gz -m {d}/cal.safetensors", {"{d}/none.nii.gz"},
       calibrated_model},
      {"estimate-drf with a junk model", "estimate-drf {d}/in.nii.gz -m {d}/bad.safetensors", {"{d}/bad.safetensors"},
       [](auto& d) {
         valid_nifti(d);
         write_bytes(d / "bad.safetensors", std::string(100, '\x7f'));
       }},
      {"estimate-drf with an uncalibrated model", "estimate-drf {d}/in.nii.gz -m " + kModel,
       {"model_final.safetensors", "unipet calibrate"}, valid_nifti},
      {"estimate-drf without a scan", "estimate-drf -m {d}/cal.safetensors", {"SCAN"}, calibrated_model},
      {"estimate-drf a scan and a dataset", "estimate-drf {d}/in.nii.gz --dataset {d}/ds.json -m {d}/cal.safetensors",
       {"--dataset"}, calibrated_model},
      {"estimate-drf a noise-free scan", "estimate-drf {d}/flat.mha -m {d}/cal.safetensors", {"{d}/flat.mha", "noise"},
       [](auto& d) {
         calibrated_model(d);
         write_raw_mha(d / "flat.mha", {16, 16, 16}, std::vector<float>(4096, 2.0f));
       }},
      // --- calibrate ---
      {"calibrate with a missing dataset", "calibrate --dataset {d}/none.json -m {d}/cal.safetensors -o {d}/out.safetensors",
       {"{d}/none.json"}, calibrated_model},
      {"calibrate onto its own model", "calibrate --dataset {d}/none.json -m {d}/cal.safetensors -o {d}/cal.safetensors",
       {"{d}/cal.safetensors", "input"}, calibrated_model},
      {"calibrate to an image file", "calibrate --dataset {d}/none.json -m {d}/cal.safetensors -o {d}/out.nii.gz",
       {"{d}/out.nii.gz", ".safetensors"}, calibrated_model},
      {"calibrate a missing model", "calibrate --dataset {d}/none.json -m {d}/none.safetensors -o {d}/out.safetensors",
       {"{d}/none.safetensors"}},
      {"calibrate a junk model", "calibrate --dataset {d}/none.json -m {d}/bad.safetensors -o {d}/out.safetensors",
       {"{d}/bad.safetensors"}, [](auto& d) { write_bytes(d / "bad.safetensors", std::string(100, '\x7f')); }},
      {"calibrate a critic", "calibrate --dataset {d}/none.json -o {d}/out.safetensors -m " + kCritic,
       {"critic_final.safetensors", "Discriminator"}},
      {"calibrate keeping the estimator of an uncalibrated model",
       "calibrate --dataset {d}/none.json -o {d}/out.safetensors --estimator-split keep -m " + kModel,
       {"--estimator-split keep", "model_final.safetensors", "no noise-level estimator"}},
      {"calibrate keeping the estimator with no blend to fit",
       "calibrate --dataset {d}/none.json -m {d}/cal.safetensors -o {d}/out.safetensors --estimator-split keep --blend off",
       {"--estimator-split keep", "--blend off"}, calibrated_model},
      {"calibrate with the estimator of a missing model",
       "calibrate --dataset {d}/none.json -o {d}/out.safetensors --estimator-from {d}/none.safetensors -m " + kModel,
       {"--estimator-from", "{d}/none.safetensors", "no such model file"}},
      {"calibrate with the estimator of an uncalibrated model",
       "calibrate --dataset {d}/none.json -o {d}/out.safetensors --estimator-from " + kModel + " -m " + kModel,
       {"--estimator-from", "model_final.safetensors", "no noise-level estimator"}},
      {"calibrate onto the model it takes the estimator from",
       "calibrate --dataset {d}/none.json -o {d}/cal.safetensors --estimator-from {d}/cal.safetensors -m " + kModel,
       {"{d}/cal.safetensors", "input"}, calibrated_model},
      {"calibrate with two estimators",
       "calibrate --dataset {d}/none.json -o {d}/out.safetensors --estimator-from {d}/cal.safetensors "
       "--estimator-split keep -m " + kModel,
       {"--estimator-from", "--estimator-split"}, calibrated_model},
      {"calibrate a blend on the test split",
       "calibrate --dataset {d}/none.json -m {d}/cal.safetensors -o {d}/out.safetensors --blend-split test",
       {"--blend-split test", "never"}, calibrated_model},
      {"calibrate with --blend maybe", "calibrate --dataset {d}/none.json -m {d}/cal.safetensors -o {d}/out.safetensors --blend maybe",
       {"--blend"}, calibrated_model},
      {"calibrate with batch -2", "calibrate --dataset {d}/none.json -m {d}/cal.safetensors -o {d}/out.safetensors --batch -2",
       {"--batch"}, calibrated_model},
      {"calibrate with a 100000-voxel tile", "calibrate --dataset {d}/none.json -m {d}/cal.safetensors -o {d}/out.safetensors --tile 100000",
       {"--tile", "[8, 512]"}, calibrated_model},
      {"calibrate with a negative overlap", "calibrate --dataset {d}/none.json -m {d}/cal.safetensors -o {d}/out.safetensors --overlap -0.1",
       {"--overlap"}, calibrated_model},
      // --- serve: refused before the queue folder is made ---
      {"serve with batch 0", "serve --forward PACS@127.0.0.1:104 --work {d}/w --port 11999 --batch 0 -m " + kModel,
       {"--batch", "[1, 1024]"}},
      {"serve with a 2-voxel tile", "serve --forward PACS@127.0.0.1:104 --work {d}/w --port 11999 --tile 2 -m " + kModel,
       {"--tile", "[8, 512]"}},
      {"serve with overlap 0.99", "serve --forward PACS@127.0.0.1:104 --work {d}/w --port 11999 --overlap 0.99 -m " + kModel,
       {"--overlap"}},
      {"serve with a 512-voxel tile (memory)", "serve --forward PACS@127.0.0.1:104 --work {d}/w --port 11999 --tile 512 -m " + kModel,
       {"--tile 512", "memory"}},
      {"serve fp8", "serve --forward PACS@127.0.0.1:104 --work {d}/w --port 11999 --precision fp8 -m " + kModel, {"--precision"}},
      {"serve a missing model", "serve --forward PACS@127.0.0.1:104 --work {d}/w --port 11999 -m {d}/none.safetensors",
       {"{d}/none.safetensors"}},
      {"calibrate without a validation split",
       "calibrate --dataset {d}/ds/dataset.json -m {d}/cal.safetensors -o {d}/out.safetensors",
       {"{d}/ds/dataset.json", "val"},
       [](auto& d) {
         calibrated_model(d);
         fs::create_directories(d / "ds");
         io::write_image(awkward_volume(), (d / "ds/full.nii.gz").string());
         io::write_image(awkward_volume(), (d / "ds/low.nii.gz").string());
         io::Dataset ds;
         ds.name = "one";
         ds.source = "nifti-pairs";
         ds.drfs = {4};
         io::DatasetSubject s;
         s.id = "s1";
         s.split = "train";
         s.full_dose = "full.nii.gz";
         s.low_dose[4] = "low.nii.gz";
         ds.subjects.push_back(s);
         io::write_dataset(ds, (d / "ds/dataset.json").string());
       }},
      // --- evaluate ---
      {"evaluate without a dataset", "evaluate --out {d}/r", {"--dataset"}},
      {"evaluate with a method without a name", "evaluate --dataset {d}/dataset.json --method {d}/m --out {d}/r",
       {"--method", "NAME="}},
      {"evaluate --pred without --ref", "evaluate --pred {d}/in.nii.gz", {"--pred", "--ref"}, valid_nifti},
      {"evaluate a pair of other geometry", "evaluate --pred {d}/in.nii.gz --ref {d}/other.nii.gz",
       {"{d}/in.nii.gz", "{d}/other.nii.gz", "geometry"},
       [](auto& d) {
         valid_nifti(d);
         Volume v = awkward_volume();
         v.spacing[0] *= 2;
         io::write_image(v, (d / "other.nii.gz").string());
       }},
      {"evaluate a pair with range 0", "evaluate --pred {d}/in.nii.gz --ref {d}/in.nii.gz --range 0", {"--range"}, valid_nifti},
      {"evaluate two methods of one name", "evaluate --dataset {d}/ds/dataset.json --method Net={d}/a.safetensors "
                                           "--method Net={d}/b.safetensors --out {d}/r",
       {"--method Net", "twice"}, evaluation_inputs},
      {"evaluate a model and a folder of one name", "evaluate --dataset {d}/ds/dataset.json --method Net={d}/a.safetensors "
                                                    "--method net={d}/preds --out {d}/r",
       {"--method net", "twice"}, evaluation_inputs},
      {"evaluate --show a subject not in the split", "evaluate --dataset {d}/ds/dataset.json --method A={d}/a.safetensors "
                                                     "--show nosuch --out {d}/r",
       {"--show nosuch", "{d}/ds/dataset.json"}, evaluation_inputs},
      {"evaluate --show-drf not evaluated", "evaluate --dataset {d}/ds/dataset.json --method A={d}/a.safetensors "
                                            "--show-drf 20 --out {d}/r",
       {"--show-drf 20"}, evaluation_inputs},
      {"evaluate with a trained DRF below 1", "evaluate --dataset {d}/ds/dataset.json --method A={d}/a.safetensors "
                                              "--trained-drfs 4,0.5 --out {d}/r",
       {"--trained-drfs", "0.5"}, evaluation_inputs},
      {"evaluate with batch 0", "evaluate --dataset {d}/ds/dataset.json --method A={d}/a.safetensors --batch 0 --out {d}/r",
       {"--batch", "[1, 1024]"}, evaluation_inputs},
      {"evaluate with a 3-voxel tile", "evaluate --dataset {d}/ds/dataset.json --method A={d}/a.safetensors --tile 3 --out {d}/r",
       {"--tile", "[8, 512]"}, evaluation_inputs},
      {"evaluate with overlap 1.5", "evaluate --dataset {d}/ds/dataset.json --method A={d}/a.safetensors --overlap 1.5 --out {d}/r",
       {"--overlap"}, evaluation_inputs},
      {"evaluate with a 512-voxel tile (memory)", "evaluate --dataset {d}/ds/dataset.json --method A={d}/a.safetensors --tile 512 --out {d}/r",
       {"--tile 512", "memory"}, evaluation_inputs},
      {"evaluate one DRF twice", "evaluate --dataset {d}/ds/dataset.json --method A={d}/a.safetensors --drf 4,4 --out {d}/r",
       {"--drf 4", "twice"}, evaluation_inputs},
      {"evaluate a pair inside an empty mask", "evaluate --pred {d}/ref.nii.gz --ref {d}/ref.nii.gz --mask {d}/empty_mask.nii.gz",
       {"--mask {d}/empty_mask.nii.gz", "no voxel"}, pair_inputs},
      {"evaluate a pair with fractional lesion labels",
       "evaluate --pred {d}/ref.nii.gz --ref {d}/ref.nii.gz --lesions {d}/fractions.nii.gz",
       {"--lesions {d}/fractions.nii.gz", "whole numbers"}, pair_inputs},
      {"evaluate against an all-zero reference", "evaluate --pred {d}/ref.nii.gz --ref {d}/zero.nii.gz",
       {"--ref {d}/zero.nii.gz", "above 0"}, pair_inputs},
      {"evaluate a pair smaller than the SSIM window", "evaluate --pred {d}/in.nii.gz --ref {d}/in.nii.gz",
       {"--ref {d}/in.nii.gz", "SSIM window"}, valid_nifti},
      // --- train: the dose-balancing keys, checked before the dataset is read ---
      {"train a batch no machine holds", "train --dataset {d}/ds/dataset.json --stage bdn --out {d}/run --set batch=1000",
       {"batch=1000", "GB of memory"},
       [](auto& d) { one_subject_dataset(d, "train", Units::SUV); }},
      {"train with --drf and --set drfs", "train --dataset {d}/dataset.json --stage bdn --out {d}/run --drf 4 --set drfs=[20]",
       {"--drf", "drfs=[20]"}},
      {"evaluate a dataset with a negative SUV factor",
       "evaluate --dataset {d}/ds/dataset.json --split test --baseline lowdose --out {d}/report",
       {"{d}/ds/dataset.json", "subjects[0].info.suv_per_bqml", "positive"},
       [](auto& d) {
         one_subject_dataset(d, "test", Units::BqPerMl,
                             {{"suv_per_bqml", 7.0}, {"weight_kg", 70.0}, {"dose_at_scan_bq", 3e8}});
         // The writer refuses a negative factor too: edit the file as a user would.
         std::string text = read_bytes((d / "ds/dataset.json").string());
         const std::string given = "\"suv_per_bqml\": 7";
         text.replace(text.find(given), given.size(), "\"suv_per_bqml\": -1");
         write_bytes((d / "ds/dataset.json").string(), text);
       }},
      {"train with an unknown intensity mapping", "train --dataset {d}/dataset.json --stage bdn --out {d}/run --set intensity=cube",
       {"intensity", "'cube'", "linear, sqrt or log"}},
      {"train with a non-positive intensity scale", "train --dataset {d}/dataset.json --stage bdn --out {d}/run --set intensity_scale=0",
       {"intensity_scale"}},
      {"train with most samples identity pairs", "train --dataset {d}/dataset.json --stage bdn --out {d}/run --set identity_fraction=0.9",
       {"identity_fraction", "0.9"}},
      {"train with more hot patches than patches", "train --dataset {d}/dataset.json --stage bdn --out {d}/run --set hot_fraction=2",
       {"hot_fraction", "[0, 1]"}},
      {"train with an unknown dose weighting", "train --dataset {d}/dataset.json --stage bdn --out {d}/run --set dose_weighting=sometimes",
       {"dose_weighting", "'sometimes'"}},
      {"train with a zero dose-weight floor", "train --dataset {d}/dataset.json --stage bdn --out {d}/run --set dose_weighting=input_error --set dose_weight_floor=0",
       {"dose_weight_floor"}},
      {"train with a negative lesion weight", "train --dataset {d}/dataset.json --stage bdn --out {d}/run --set lambda_lesion=-1",
       {"lambda_lesion"}},
      {"train with lesion pools larger than the patch", "train --dataset {d}/dataset.json --stage bdn --out {d}/run --set patch=16 --set lambda_lesion=1 --set lesion_scales=5",
       {"patch", "lesion_scales"}},
      {"train with identity pairs given as text", "train --dataset {d}/dataset.json --stage bdn --out {d}/run --set identity_fraction=some",
       {"--set identity_fraction", "number"}},
      // --- speed, demo and general options ---
      {"speed with 100000 threads", "speed --threads 100000", {"--threads"}},
      {"speed in float16 on the CPU", "speed --device cpu --dtype float16", {"--precision", "float16"}},
      {"speed in an unknown precision", "speed --precision fp8", {"--precision", "fp8"}},
      {"speed on an unknown device", "speed --device tpu", {"--device", "tpu"}},
      {"speed with a tiny volume", "speed --size 5", {"--size"}},
      {"speed with a missing model", "speed --model {d}/none.safetensors", {"{d}/none.safetensors"}},
      {"speed with an image as model", "speed --model {d}/in.safetensors", {"{d}/in.safetensors"},
       [](auto& d) {
         valid_nifti(d);
         fs::copy_file(d / "in.nii.gz", d / "in.safetensors");
       }},
      {"unknown command", "frobnicate", {"frobnicate"}},
      {"unknown option", "info {d}/in.nii.gz --bogus", {"--bogus"}, valid_nifti},
  };
}

TEST(CliBadInput, EveryCatalogueCaseFailsWithOneLineAndChangesNothing) {
  const auto cases = catalogue();
  EXPECT_GE(cases.size(), 40u);
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    TempDir tmp;
    const fs::path d = tmp.path();
    c.setup(d);
    const FsSnapshot before = snapshot(d);
    const CommandResult r = unipet_cli(fill(c.args, d));
    EXPECT_EQ(r.status, 1) << r.output;
    const std::string line = error_line(r);
    ASSERT_FALSE(line.empty()) << r.output;
    // One line in all: the error, nothing before or after it (no backtrace, no library noise).
    EXPECT_EQ(r.output, line + "\n") << "output is not exactly one error line";
    for (const auto& part : c.expect) EXPECT_NE(line.find(fill(part, d)), std::string::npos) << fill(part, d) << " not in: " << line;
    EXPECT_EQ(snapshot_diff(before, snapshot(d)), "");
  }
}

}  // namespace
}  // namespace unipet::test
