#include "unipet/train/sampler.h"

#include <algorithm>
#include <cmath>
#include <condition_variable>
#include <deque>
#include <exception>
#include <functional>
#include <sstream>
#include <thread>
#include <utility>

#include "random_stream.h"
#include "unipet/core/error.h"

namespace unipet::train {
namespace {

using torch::indexing::Slice;

bool same_drf(double a, double b) { return std::fabs(a - b) <= 1e-9 * std::max(std::fabs(a), std::fabs(b)); }

const std::string* find_low(const io::DatasetSubject& s, double drf) {
  for (const auto& [d, path] : s.low_dose)
    if (same_drf(d, drf)) return &path;
  return nullptr;
}

// Crops a P³ cube centred (as far as the volume allows) on `centre` from a [D, H, W] tensor that
// is at least P along every axis.
torch::Tensor crop(const torch::Tensor& v, const std::array<int64_t, 3>& centre, int64_t p) {
  torch::Tensor out = v;
  for (int64_t axis = 0; axis < 3; ++axis) {
    const int64_t start = std::clamp<int64_t>(centre[axis] - p / 2, 0, v.size(axis) - p);
    out = out.narrow(axis, start, p);
  }
  return out;
}

std::array<int64_t, 3> unflatten(int64_t flat, const torch::Tensor& v) {
  const int64_t h = v.size(1), w = v.size(2);
  return {flat / (h * w), (flat / w) % h, flat % w};
}

// A centre: a body voxel with probability `body_fraction` (when the volume has any), else any.
std::array<int64_t, 3> draw_centre(detail::RandomStream& r, const torch::Tensor& volume,
                                   const torch::Tensor& body, double body_fraction) {
  const bool on_body = r.uniform() < body_fraction;
  const uint64_t pick = r.next();
  if (on_body && body.numel() > 0)
    return unflatten(body[static_cast<int64_t>(pick % static_cast<uint64_t>(body.numel()))].item<int64_t>(),
                     volume);
  return unflatten(static_cast<int64_t>(pick % static_cast<uint64_t>(volume.numel())), volume);
}

// One of the 48 flips-and-permutations of a cube, applied to [P, P, P].
torch::Tensor augment(const torch::Tensor& cube, uint64_t code) {
  static const int64_t kPermutations[6][3] = {{0, 1, 2}, {0, 2, 1}, {1, 0, 2},
                                              {1, 2, 0}, {2, 0, 1}, {2, 1, 0}};
  std::vector<int64_t> flips;
  for (int64_t axis = 0; axis < 3; ++axis)
    if (code & (uint64_t{1} << axis)) flips.push_back(axis);
  torch::Tensor out = flips.empty() ? cube : cube.flip(flips);
  const int64_t* perm = kPermutations[(code >> 3) % 6];
  return out.permute({perm[0], perm[1], perm[2]});
}

}  // namespace

std::vector<double> training_drfs(const io::Dataset& dataset, const TrainConfig& config) {
  UNIPET_CHECK(!dataset.drfs.empty(), dataset.root << "/dataset.json: the dataset has no low-dose images");
  if (config.drfs.empty()) return dataset.drfs;
  std::vector<double> out;
  for (double drf : config.drfs) {
    const bool present =
        std::any_of(dataset.drfs.begin(), dataset.drfs.end(), [&](double d) { return same_drf(d, drf); });
    std::ostringstream have;
    for (double d : dataset.drfs) have << (have.tellp() > 0 ? ", " : "") << d;
    UNIPET_CHECK(present, dataset.root << "/dataset.json: no DRF " << drf << " in the dataset (it has "
                                       << have.str() << ")");
    out.push_back(drf);
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end(), same_drf), out.end());
  return out;
}

// ---------------------------------------------------------------------------------------------
// VolumeCache

VolumeCache::VolumeCache(const io::Dataset& dataset, const TrainConfig& config, VolumeReader read)
    : dataset_(dataset), config_(config), read_(std::move(read)), normalization_(config.normalization()) {
  UNIPET_CHECK(read_, "VolumeCache: no volume reader");
}

double VolumeCache::suv_factor(const io::DatasetSubject& s) const { return io::subject_suv_factor(dataset_, s); }

torch::Tensor VolumeCache::load(const io::DatasetSubject& s, double drf, int64_t min_side) {
  const std::string* relative = drf == 0 ? &s.full_dose : find_low(s, drf);
  UNIPET_CHECK(relative,
               dataset_.root << "/dataset.json: subject " << s.id << " has no image at DRF " << drf);
  const std::string path = dataset_.resolve(*relative);
  const Volume v = read_(path);
  torch::Tensor t = normalization_.normalize(v.data.to(torch::kCPU, torch::kFloat32) * suv_factor(s));
  const int64_t pd = std::max<int64_t>(0, min_side - t.size(0)),
                ph = std::max<int64_t>(0, min_side - t.size(1)),
                pw = std::max<int64_t>(0, min_side - t.size(2));
  if (pd + ph + pw > 0) t = torch::constant_pad_nd(t, {0, pw, 0, ph, 0, pd}, 0.0);
  return t.contiguous();
}

void VolumeCache::insert(const std::string& key, const torch::Tensor& t) {
  order_.push_front(key);
  entries_[key] = {t, order_.begin()};
  bytes_ += t.numel() * 4;
  const double limit = config_.cache_gb * 1e9;
  while (static_cast<double>(bytes_) > limit && order_.size() > 1) {
    const auto victim = entries_.find(order_.back());
    bytes_ -= victim->second.tensor.numel() * 4;
    entries_.erase(victim);
    order_.pop_back();
  }
}

torch::Tensor VolumeCache::get(const io::DatasetSubject& s, double drf, int64_t min_side) {
  const std::string key = s.id + "|" + io::drf_text(drf) + "|" + std::to_string(min_side);
  std::lock_guard<std::mutex> lock(mutex_);
  const auto it = entries_.find(key);
  if (it != entries_.end()) {
    order_.splice(order_.begin(), order_, it->second.position);
    return it->second.tensor;
  }
  torch::Tensor t = load(s, drf, min_side);
  insert(key, t);
  return t;
}

torch::Tensor VolumeCache::derived(const std::string& key, const std::function<torch::Tensor()>& compute) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    const auto it = entries_.find(key);
    if (it != entries_.end()) {
      order_.splice(order_.begin(), order_, it->second.position);
      return it->second.tensor;
    }
  }
  torch::Tensor t = compute();  // outside the lock: it loads volumes through get()
  std::lock_guard<std::mutex> lock(mutex_);
  if (!entries_.count(key)) insert(key, t);
  return t;
}

torch::Tensor VolumeCache::body_voxels(const io::DatasetSubject& s, int64_t min_side) {
  return derived(s.id + "|body|" + std::to_string(min_side), [&] {
    const torch::Tensor full = get(s, 0, min_side);
    torch::Tensor body =
        torch::nonzero(full.reshape({-1}) > normalization_.normalize_value(config_.body_threshold)).reshape({-1});
    constexpr int64_t kMaxBodyVoxels = 1 << 20;
    if (body.numel() > kMaxBodyVoxels)
      body = body.index(
          {Slice(0, torch::indexing::None, (body.numel() + kMaxBodyVoxels - 1) / kMaxBodyVoxels)});
    return body.contiguous();
  });
}

torch::Tensor VolumeCache::hot_voxels(const io::DatasetSubject& s, int64_t min_side) {
  return derived(s.id + "|hot|" + std::to_string(min_side), [&] {
    const torch::Tensor body = body_voxels(s, min_side);
    if (body.numel() == 0) return body;
    const torch::Tensor values = get(s, 0, min_side).reshape({-1}).index_select(0, body);
    const int64_t k = std::max<int64_t>(1, body.numel() / 200);  // the hottest 0.5%
    // Sorted by index, not value, so the draw does not depend on topk's order among ties.
    return std::get<0>(body.index_select(0, std::get<1>(values.topk(k))).sort()).contiguous();
  });
}

// ---------------------------------------------------------------------------------------------
// PatchSampler

struct PatchSampler::Prefetcher {
  std::thread worker;
  std::mutex mutex;
  std::condition_variable changed;
  std::deque<Batch> ready;
  std::exception_ptr error;
  bool stopping = false;
};

PatchSampler::PatchSampler(const io::Dataset& dataset, const TrainConfig& config, int64_t rank, VolumeReader read)
    : dataset_(dataset),
      config_(config),
      drfs_(training_drfs(dataset, config)),
      subjects_(dataset.subjects_in_split(config.train_split)),
      cache_(std::make_unique<VolumeCache>(dataset, config, std::move(read))),
      first_sample_(rank * config.batch) {
  UNIPET_CHECK(rank >= 0, "PatchSampler: rank must be >= 0, got " << rank);
  UNIPET_CHECK(!subjects_.empty(), dataset.root << "/dataset.json: no subject in the training split '"
                                                << config.train_split << "'");
  for (const io::DatasetSubject* s : subjects_)
    for (double drf : drfs_)
      UNIPET_CHECK(find_low(*s, drf),
                   dataset.root << "/dataset.json: subject " << s->id << " has no image at DRF " << drf);
}

PatchSampler::~PatchSampler() { stop(); }

Batch PatchSampler::batch(int64_t step) {
  const int64_t p = config_.patch;
  Batch b;
  b.step = step;
  b.first_sample = first_sample_;
  std::vector<torch::Tensor> lows, fulls;
  for (int64_t k = first_sample_; k < first_sample_ + config_.batch; ++k) {
    detail::RandomStream r(config_.seed, static_cast<uint64_t>(step), static_cast<uint64_t>(k));
    const io::DatasetSubject& s = *subjects_[r.next() % subjects_.size()];
    double drf = drfs_[r.next() % drfs_.size()];
    // Drawn only when identity pairs are on, so the streams of earlier runs are unchanged.
    const bool identity = config_.identity_fraction > 0 && r.uniform() < config_.identity_fraction;
    const torch::Tensor full = cache_->get(s, 0, p), low = identity ? full : cache_->get(s, drf, p);
    if (identity) drf = 1;
    UNIPET_CHECK(full.sizes() == low.sizes(), dataset_.root << "/dataset.json: subject " << s.id << ": DRF "
                                                            << drf << " image is " << low.sizes()
                                                            << ", full dose " << full.sizes());
    // Drawn only when hot patches are on, so the streams of earlier runs are unchanged.
    const bool hot = config_.hot_fraction > 0 && r.uniform() < config_.hot_fraction;
    const auto centre = hot ? draw_centre(r, full, cache_->hot_voxels(s, p), 1.0)
                            : draw_centre(r, full, cache_->body_voxels(s, p), config_.body_fraction);
    const uint64_t code = r.next();
    torch::Tensor f = crop(full, centre, p), l = crop(low, centre, p);
    if (config_.augment) {
      f = augment(f, code);
      l = augment(l, code);
    }
    fulls.push_back(f);
    lows.push_back(l);
    b.drfs.push_back(drf);
    b.subjects.push_back(s.id);
  }
  b.full = torch::stack(fulls).unsqueeze(1).contiguous();
  b.low = torch::stack(lows).unsqueeze(1).contiguous();
  return b;
}

void PatchSampler::stop() {
  if (!prefetcher_) return;
  {
    std::lock_guard<std::mutex> lock(prefetcher_->mutex);
    prefetcher_->stopping = true;
  }
  prefetcher_->changed.notify_all();
  prefetcher_->worker.join();
  prefetcher_.reset();
}

void PatchSampler::start(int64_t step) {
  stop();
  next_step_ = step;
  if (config_.prefetch == 0) return;
  prefetcher_ = std::make_unique<Prefetcher>();
  Prefetcher* p = prefetcher_.get();
  p->worker = std::thread([this, p, step]() {
    // Inference-only tensors: nothing here needs autograd's bookkeeping.
    torch::NoGradGuard no_grad;
    for (int64_t s = step;; ++s) {
      Batch b;
      try {
        b = batch(s);
      } catch (...) {
        std::lock_guard<std::mutex> lock(p->mutex);
        p->error = std::current_exception();
        p->changed.notify_all();
        return;
      }
      std::unique_lock<std::mutex> lock(p->mutex);
      p->changed.wait(
          lock, [&] { return p->stopping || static_cast<int64_t>(p->ready.size()) < config_.prefetch; });
      if (p->stopping) return;
      p->ready.push_back(std::move(b));
      p->changed.notify_all();
    }
  });
}

Batch PatchSampler::next() {
  if (!prefetcher_) return batch(next_step_++);
  std::unique_lock<std::mutex> lock(prefetcher_->mutex);
  prefetcher_->changed.wait(lock, [&] { return !prefetcher_->ready.empty() || prefetcher_->error; });
  if (prefetcher_->ready.empty()) std::rethrow_exception(prefetcher_->error);
  Batch b = std::move(prefetcher_->ready.front());
  prefetcher_->ready.pop_front();
  prefetcher_->changed.notify_all();
  ++next_step_;
  return b;
}

std::vector<ValidationCrop> validation_crops(const io::Dataset& dataset, const TrainConfig& config,
                                             VolumeCache& cache) {
  std::vector<const io::DatasetSubject*> subjects = dataset.subjects_in_split(config.val_split);
  UNIPET_CHECK(!subjects.empty(), dataset.root << "/dataset.json: no subject in the validation split '"
                                               << config.val_split
                                               << "' (set val_split, or validate_every=0)");
  if (config.val_subjects > 0 && static_cast<int64_t>(subjects.size()) > config.val_subjects)
    subjects.resize(static_cast<size_t>(config.val_subjects));
  const std::vector<double> drfs = training_drfs(dataset, config);
  const int64_t side = config.val_crop;
  // A stream of its own (step -1 never occurs in training), so the crops do not move when the
  // training stream changes.
  std::vector<ValidationCrop> crops;
  for (size_t i = 0; i < subjects.size(); ++i) {
    const io::DatasetSubject& s = *subjects[i];
    const torch::Tensor full = cache.get(s, 0, side);
    const torch::Tensor body = cache.body_voxels(s, side);
    detail::RandomStream r(config.seed, ~uint64_t{0}, i);
    for (int64_t c = 0; c < config.val_crops; ++c) {
      const auto centre = draw_centre(r, full, body, 1.0);
      ValidationCrop crop_out;
      crop_out.subject = s.id;
      crop_out.full =
          crop(full, centre, side).clone(torch::MemoryFormat::Contiguous).view({1, 1, side, side, side});
      for (double drf : drfs) {
        const torch::Tensor low = cache.get(s, drf, side);
        UNIPET_CHECK(low.sizes() == full.sizes(), dataset.root
                                                      << "/dataset.json: subject " << s.id << ": DRF " << drf
                                                      << " image does not match the full dose's size");
        crop_out.low[drf] =
            crop(low, centre, side).clone(torch::MemoryFormat::Contiguous).view({1, 1, side, side, side});
      }
      crops.push_back(std::move(crop_out));
    }
  }
  return crops;
}

}  // namespace unipet::train
