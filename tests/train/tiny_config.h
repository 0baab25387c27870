#pragma once
// The smallest training configuration, shared by the train tests of both test programs (this header
// needs unipet::compute only, so tests/train/test_train_compute.cpp can use it too).
#include "unipet/train/config.h"

namespace unipet::test {

/// A network and schedule small enough for a test to train in seconds.
inline train::TrainConfig tiny_config(train::Stage stage) {
  train::TrainConfig c;
  c.stage = stage;
  c.width = 16;
  c.blocks = 2;
  c.san_width = 16;
  c.san_depth = 1;
  c.critic_ndf = 4;
  c.critic_layers = 1;
  c.patch = 16;
  c.batch = 2;
  c.iterations = 6;
  c.lr = 1e-3;
  c.lr_critic = 1e-3;
  c.log_every = 1;
  c.validate_every = 0;
  c.checkpoint_every = 3;
  c.val_crops = 2;
  c.val_crop = 16;
  c.prefetch = 2;
  return c;
}

}  // namespace unipet::test
