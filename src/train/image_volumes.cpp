#include <string>

#include "unipet/io/image_io.h"
#include "unipet/train/sampler.h"
#include "unipet/train/trainer.h"

// The training entry points that read the dataset's image files with io::read_image. They live
// in unipet_core, so that the rest of train (unipet_compute) builds without ITK.
namespace unipet::train {

namespace {

VolumeReader image_file_reader() {
  return [](const std::string& path) { return io::read_image(path); };
}

}  // namespace

VolumeCache::VolumeCache(const io::Dataset& dataset, const TrainConfig& config)
    : VolumeCache(dataset, config, image_file_reader()) {}

PatchSampler::PatchSampler(const io::Dataset& dataset, const TrainConfig& config, int64_t rank)
    : PatchSampler(dataset, config, rank, image_file_reader()) {}

TrainResult train(const TrainOptions& options) { return train(options, image_file_reader()); }

}  // namespace unipet::train
