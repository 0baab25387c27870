#pragma once
/// What made a derived image, recorded where readers look for it: in a DICOM series (Derivation
/// Description, Derivation Code Sequence, Contributing Equipment Sequence) and in a JSON sidecar
/// (GeneratedBy, Sources), and read back by `unipet info`.
///
///   unipet::io::Provenance p = unipet::io::model_provenance("model.safetensors", "unipet denoise ...");
///   unipet::io::describe(p);  // "unipet 0.1.0 denoised with model model.safetensors (sha256 3f2a...)"
#include <string>

namespace unipet::io {

/// A coded concept (DICOM Code Sequence Macro): value, scheme, meaning.
struct CodedConcept {
  std::string value, scheme, meaning;
};

struct Provenance {
  std::string operation = "converted";  ///< what was done, a past participle: "denoised", "converted"
  std::string model_file;               ///< the model's file name (no folder); "" when no model was used
  std::string model_sha256;             ///< 64 hex digits; "" when no model was used
  std::string command_line;             ///< the command as typed; "" from a library call
  /// Derivation Code Sequence item of a DICOM output (CID 7203); empty value: none written.
  CodedConcept derivation;
};

/// Provenance of a denoising run with the model file at `model_path` (hashed here; throws
/// unipet::Error naming it when it cannot be read): operation "denoised", derivation (113087,
/// DCM, "Smoothing"), the closest concept CID 7203 has for noise reduction.
Provenance model_provenance(const std::string& model_path, const std::string& command_line = "");

/// One line naming the software, its version, the operation and the model with its hash.
std::string describe(const Provenance& provenance);

/// "0.1.0 (commit 1a2b3c4d5e6f)": the version string recorded in outputs.
std::string software_version();

}  // namespace unipet::io
