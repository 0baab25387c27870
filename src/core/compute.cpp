#include "unipet/core/compute.h"

namespace unipet {

Compute resolve_compute(const ComputeOptions& options) {
  Compute c;
  c.threads = resolve_threads(options.threads);
  c.device = parse_device(options.device);
  c.dtype = parse_dtype(options.precision);
  check_dtype_on_device(c.dtype, c.device);
  return c;
}

Compute apply_compute(const ComputeOptions& options) {
  const Compute c = resolve_compute(options);
  torch::set_num_threads(c.threads);
  return c;
}

}  // namespace unipet
