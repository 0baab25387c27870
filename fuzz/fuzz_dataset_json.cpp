// libFuzzer harness: unipet::fuzz::fuzz_dataset_json (fuzz/fuzz_entry_points.h) on every input.
#include <torch/torch.h>

#include "fuzz_entry_points.h"

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  // One core per fuzzer: the machine runs the targets side by side with other builds.
  torch::set_num_threads(1);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  unipet::fuzz::fuzz_dataset_json(data, size);
  return 0;
}
