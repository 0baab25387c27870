#pragma once
/// Where and how a command computes: the one vocabulary of `--device`, `--precision` and
/// `--threads`, embedded in every options struct that runs a network.
///
///   unipet::ComputeOptions c;             // device "auto", precision "fp32", threads 0 (all)
///   c.precision = "bf16";
///   const unipet::Compute r = unipet::resolve_compute(c);  // throws naming the option
#include <string>

#include <torch/torch.h>

#include "unipet/core/device.h"

namespace unipet {

/// What the user asked for, as typed (the CLI registers all three in one place).
struct ComputeOptions {
  std::string device = "auto";     ///< cpu, cuda, cuda:N or auto
  std::string precision = "fp32";  ///< fp32, bf16, or fp16 (CUDA only)
  int threads = 0;                 ///< CPU threads; 0: one per hardware thread
};

/// The same, checked and resolved.
struct Compute {
  torch::Device device{torch::kCPU};
  torch::ScalarType dtype = torch::kFloat32;
  int threads = 1;
};

/// Checks all three (a CUDA device this machine lacks, an unknown precision, float16 on the CPU,
/// a thread count out of range) and resolves them. Throws unipet::Error naming --device,
/// --precision or --threads. Changes nothing.
Compute resolve_compute(const ComputeOptions& options);

/// resolve_compute, then sets LibTorch's intra-op threads: what a command does first. Prints
/// precision_warning, when there is one, to stderr as one "unipet: warning:" line.
Compute apply_compute(const ComputeOptions& options);

/// A one-line warning when the precision is slower than fp32 on this machine, else "": bfloat16
/// on a CPU without AVX-512 (LibTorch 1.13 then runs bfloat16 convolutions on its slow, unblocked
/// path: 9 times slower than fp32 on an AVX2 EPYC, `unipet speed --size 32`).
std::string precision_warning(const Compute& compute);

}  // namespace unipet
