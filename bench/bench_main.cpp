// unipet_bench: throughput of the networks and the simulator. Examples:
//   ./build/unipet_bench --benchmark_filter='UniPET|BareConvStack'
//   ./run bench --benchmark_filter='/64/'
//   ./build/unipet_bench --benchmark_filter=WholeBody     (about 25 minutes on 2 cores)
//   ./build/unipet_bench --write-whole-body=/tmp/wb.nii.gz     (not in the UNIPET_IMAGE_IO=OFF build)
#include <benchmark/benchmark.h>

#include <cstring>
#include <iostream>

#include "unipet/core/device.h"
#include "unipet/io/image_io.h"
#include "whole_body.h"

int main(int argc, char** argv) {
  unipet::keep_freed_memory_for_reuse();  // as the unipet CLI does
  // --write-whole-body=FILE: the whole-body benchmark volume, to time `unipet denoise` itself.
  // The ITK-free build (UNIPET_IMAGE_IO=OFF) writes no image files, and so has no such option.
#if UNIPET_BENCH_IMAGE_IO
  constexpr const char* kWrite = "--write-whole-body=";
  if (argc == 2 && std::strncmp(argv[1], kWrite, std::strlen(kWrite)) == 0) {
    unipet::io::write_image(unipet::bench::whole_body_volume(), argv[1] + std::strlen(kWrite));
    std::cout << "wrote " << argv[1] + std::strlen(kWrite) << "\n";
    return 0;
  }
#endif
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
