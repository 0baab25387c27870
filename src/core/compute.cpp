#include "unipet/core/compute.h"

#include <iostream>

namespace unipet {

Compute resolve_compute(const ComputeOptions& options) {
  Compute c;
  c.threads = resolve_threads(options.threads);
  c.device = parse_device(options.device);
  c.dtype = parse_dtype(options.precision);
  check_dtype_on_device(c.dtype, c.device);
  return c;
}

namespace {

// What LibTorch's oneDNN needs for bfloat16 convolutions (mkldnn_bf16_device_check in 1.13).
bool cpu_runs_bf16_fast() {
#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
         __builtin_cpu_supports("avx512dq");
#else
  return true;  // not x86: no known slow path to warn about
#endif
}

}  // namespace

std::string precision_warning(const Compute& c) {
  if (c.device.is_cpu() && c.dtype == torch::kBFloat16 && !cpu_runs_bf16_fast())
    return "--precision bf16: this CPU has no AVX-512, so bfloat16 convolutions run on a slow path "
           "(about 9 times slower than fp32 on an AVX2 CPU); --precision fp32 is faster here";
  return "";
}

Compute apply_compute(const ComputeOptions& options) {
  const Compute c = resolve_compute(options);
  torch::set_num_threads(c.threads);
  const std::string warning = precision_warning(c);
  if (!warning.empty()) std::cerr << "unipet: warning: " << warning << "\n";
  return c;
}

}  // namespace unipet
