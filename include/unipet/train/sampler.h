#pragma once
/// Training data: random paired patches from a dataset.json, as a pure function of the seed.
///
///   unipet::train::PatchSampler sampler(dataset, config);
///   unipet::train::Batch b = sampler.batch(step);   // same step, same seed -> same batch
///   sampler.start(step); b = sampler.next();        // the same, prepared ahead in the background
///
/// Step s, sample k draws, from a generator seeded by (seed, s, k) alone: a subject of the
/// training split, a DRF (uniform over the configured ones; the full dose itself, "DRF 1", with
/// probability identity_fraction), a patch centre (one of the subject's hottest body voxels with
/// probability hot_fraction, else a body voxel with probability body_fraction, else any voxel) and an augmentation (flips and an axis
/// permutation, the same for the low- and full-dose patch). Nothing depends on thread counts,
/// on what was drawn before, or on the cache, so resuming at step s needs only s.
///
/// In a distributed run rank r draws samples r·batch to (r + 1)·batch − 1 of each step: the
/// ranks see different patches, and together exactly the batch that one process with
/// batch × world_size patches would draw, at any world size and after any resume.
///
/// Images are turned into SUV (dataset units SUV, or Bq/ml times the subject's `suv_per_bqml`,
/// or weight_kg · 1000 / dose_at_scan_bq), then normalised by the run's intensity mapping
/// (TrainConfig::normalization()).
/// Volumes smaller than a patch are padded with zeros (background) at their far side.
#include <cstdint>
#include <functional>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "unipet/core/volume.h"
#include "unipet/io/dataset.h"
#include "unipet/train/config.h"

namespace unipet::train {

struct Batch {
  int64_t step = 0;
  int64_t first_sample = 0;  ///< index of low[0] among the step's samples of every rank
  torch::Tensor low;         ///< [B, 1, P, P, P] float32, normalised, CPU
  torch::Tensor full;        ///< [B, 1, P, P, P]
  std::vector<double> drfs;  ///< DRF of each sample
  std::vector<std::string> subjects;
};

/// A fixed validation crop: the same location at every DRF.
struct ValidationCrop {
  std::string subject;
  torch::Tensor full;                   ///< [1, 1, S, S, S] normalised
  std::map<double, torch::Tensor> low;  ///< DRF -> [1, 1, S, S, S] normalised
};

/// The DRFs a run uses: `config.drfs` (each must be in the dataset) or all of the dataset's.
/// Throws unipet::Error naming the dataset and the missing DRF.
std::vector<double> training_drfs(const io::Dataset& dataset, const TrainConfig& config);

/// Loads normalised volumes of a dataset, keeping at most `cache_gb` in memory (least recently
/// used first out). Thread-safe.
class VolumeCache {
 public:
  /// Reads each image once through `read` (given the resolved path).
  VolumeCache(const io::Dataset& dataset, const TrainConfig& config, VolumeReader read);
  /// Reads the image files with io::read_image: defined in unipet::core (not unipet::compute).
  VolumeCache(const io::Dataset& dataset, const TrainConfig& config);
  /// The normalised image of `subject` at `drf` (0: the full dose), padded to at least
  /// `min_side` voxels along every axis. Throws unipet::Error naming the file.
  torch::Tensor get(const io::DatasetSubject& subject, double drf, int64_t min_side);
  /// Flat indices (into the padded full-dose image) of voxels above the body threshold; at most
  /// about a million, evenly thinned.
  torch::Tensor body_voxels(const io::DatasetSubject& subject, int64_t min_side);
  /// The hottest 0.5% (at least one) of body_voxels(), by full-dose value.
  torch::Tensor hot_voxels(const io::DatasetSubject& subject, int64_t min_side);
  /// SUV per unit of the subject's images. Throws unipet::Error naming the subject.
  double suv_factor(const io::DatasetSubject& subject) const;

 private:
  /// A tensor derived from the subject's volumes, computed once and cached under `key`.
  torch::Tensor derived(const std::string& key, const std::function<torch::Tensor()>& compute);
  struct Entry {
    torch::Tensor tensor;
    std::list<std::string>::iterator position;
  };
  torch::Tensor load(const io::DatasetSubject& subject, double drf, int64_t min_side);
  void insert(const std::string& key, const torch::Tensor& t);

  const io::Dataset& dataset_;
  TrainConfig config_;
  VolumeReader read_;
  nn::IntensityNormalization normalization_;
  std::mutex mutex_;
  std::map<std::string, Entry> entries_;
  std::list<std::string> order_;  ///< most recently used first
  int64_t bytes_ = 0;
};

class PatchSampler {
 public:
  /// The stream of rank `rank` (see above), its volumes read through `read`. Throws
  /// unipet::Error when the training split is empty or a DRF is missing.
  PatchSampler(const io::Dataset& dataset, const TrainConfig& config, int64_t rank, VolumeReader read);
  /// Reads the image files with io::read_image: defined in unipet::core (not unipet::compute).
  PatchSampler(const io::Dataset& dataset, const TrainConfig& config, int64_t rank = 0);
  ~PatchSampler();
  PatchSampler(const PatchSampler&) = delete;
  PatchSampler& operator=(const PatchSampler&) = delete;

  /// The batch of step `step` (computed now, in this thread).
  Batch batch(int64_t step);
  /// Starts serving steps `step`, `step + 1`, ... through next(), prepared `prefetch` ahead by a
  /// background thread (in this thread when prefetch is 0).
  void start(int64_t step);
  /// The next batch of the stream begun by start(). Rethrows an error of the background thread.
  Batch next();

  const std::vector<double>& drfs() const { return drfs_; }
  const std::vector<const io::DatasetSubject*>& subjects() const { return subjects_; }
  VolumeCache& cache() { return *cache_; }

 private:
  struct Prefetcher;
  void stop();

  const io::Dataset& dataset_;
  TrainConfig config_;
  std::vector<double> drfs_;
  std::vector<const io::DatasetSubject*> subjects_;
  std::unique_ptr<VolumeCache> cache_;
  std::unique_ptr<Prefetcher> prefetcher_;
  int64_t next_step_ = 0;
  int64_t first_sample_ = 0;
};

/// `config.val_crops` crops of `config.val_crop`³ per subject of the validation split (at most
/// `config.val_subjects`), centred on body voxels drawn from a fixed seed, each cut from the
/// full-dose image and from every DRF. Throws unipet::Error when the split is empty.
std::vector<ValidationCrop> validation_crops(const io::Dataset& dataset, const TrainConfig& config,
                                             VolumeCache& cache);

}  // namespace unipet::train
