#pragma once
/// The model unipet ships (models/unipet-default.safetensors, trained by results/benchmark; see
/// docs/results.md), found without the user naming it:
///
///   unipet::infer::Denoiser denoiser(unipet::infer::default_model_path());
///
/// Looked up, in order: the file named by the environment variable UNIPET_DEFAULT_MODEL; beside
/// the running executable in models/ (a build folder, which CMake fills from the source tree);
/// in ../share/unipet/models/ from the executable (an installed unipet).
#include <string>
#include <vector>

namespace unipet::infer {

/// The shipped model's file name.
inline constexpr const char* kDefaultModelName = "unipet-default.safetensors";

/// The places looked in, in order (the environment variable's file first when it is set).
std::vector<std::string> default_model_candidates();

/// The first candidate that is a regular file. Throws unipet::Error listing where it looked when
/// there is none, or naming UNIPET_DEFAULT_MODEL when that is set to a file that does not exist.
std::string default_model_path();

}  // namespace unipet::infer
