#include "nets/train.h"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>

#include "engine/autograd.h"
#include "engine/kernels.h"
#include "engine/ops.h"
#include "nets/checkpoint.h"
#include "nets/data/augment.h"
#include "nets/data/cifar.h"
#include "nets/data/loader.h"
#include "nets/io/atomic_file.h"
#include "nets/io/image_grid.h"
#include "nets/io/metrics.h"
#include "nets/io/progress.h"
#include "nets/io/run_dir.h"

namespace vkwb::nn {

#define VKWB_TRAIN_FIELDS(X)                                                                                   \
  X(model) X(data) X(data_dir) X(epochs) X(batch) X(optimizer) X(lr) X(momentum) X(weight_decay) X(schedule)  \
  X(step_size) X(gamma) X(warmup_epochs) X(clip_norm) X(label_smoothing) X(val_size) X(early_stopping)        \
  X(crop_padding) X(flip) X(erasing) X(mixup) X(width) X(batch_norm) X(dropout) X(depth) X(limit_train)       \
  X(limit_test) X(seed) X(log_every) X(replicas)

nlohmann::json TrainConfig::to_json() const {
  nlohmann::json j;
#define X(f) j[#f] = f;
  VKWB_TRAIN_FIELDS(X)
#undef X
  return j;
}

TrainConfig TrainConfig::from_json(const nlohmann::json& j) {
  TrainConfig c;
#define X(f) if (j.contains(#f)) j.at(#f).get_to(c.f);
  VKWB_TRAIN_FIELDS(X)
#undef X
  return c;
}

void load_classification_data(const TrainConfig& cfg, data::Dataset* train, data::Dataset* test) {
  if (cfg.data == "fashion-mnist" || cfg.data == "mnist") {
    std::string dir = cfg.data_dir.empty() ? std::string(data::kDefaultFashionMnistDir) : cfg.data_dir;
    if (cfg.data == "mnist" && cfg.data_dir.empty()) throw Error("--data mnist needs --data-dir (no MNIST package is installed by default)");
    *train = cfg.data == "mnist" ? data::load_mnist(dir, "train") : data::load_fashion_mnist(dir, "train");
    *test = cfg.data == "mnist" ? data::load_mnist(dir, "test") : data::load_fashion_mnist(dir, "test");
  } else if (cfg.data == "cifar10") {
    if (cfg.data_dir.empty()) throw Error("--data cifar10 needs --data-dir with the CIFAR-10 binary files");
    *train = data::load_cifar10(cfg.data_dir, "train");
    *test = data::load_cifar10(cfg.data_dir, "test");
  } else {
    throw Error("unknown data set '" + cfg.data + "' (fashion-mnist, mnist, cifar10)");
  }
  if (cfg.limit_train > 0 && cfg.limit_train < train->n) *train = data::subset(*train, cfg.limit_train);
  if (cfg.limit_test > 0 && cfg.limit_test < test->n) *test = data::subset(*test, cfg.limit_test);
  // Normalise with the full training set's statistics (Fashion-MNIST: mean .2860, std .3530).
  data::ChannelStats st = data::compute_mean_std(*train);
  data::normalize(*train, st.mean, st.std);
  data::normalize(*test, st.mean, st.std);
}

ClassifierTrainer::ClassifierTrainer(Device& dev, const TrainConfig& cfg) : dev_(dev), cfg_(cfg) {
  if (cfg_.epochs < 1 || cfg_.batch < 1) throw Error("--epochs and --batch must be >= 1");
  if (cfg_.replicas < 1 || cfg_.replicas > cfg_.batch) throw Error("--replicas must be in [1, batch], got " + std::to_string(cfg_.replicas));
  data::Dataset full;
  load_classification_data(cfg_, &full, &test_);
  int val = std::min(cfg_.val_size, full.n / 5);
  if (val > 0) {
    auto tv = data::split_validation(full, val, cfg_.seed);
    train_ = std::move(tv.train);
    val_ = std::move(tv.val);
  } else {
    train_ = std::move(full);
  }
  models::ModelOptions mo;
  mo.in_channels = train_.c;
  mo.image_size = train_.h;
  mo.num_classes = train_.num_classes;
  mo.width = cfg_.width;
  mo.batch_norm = cfg_.batch_norm;
  mo.dropout = cfg_.dropout;
  mo.depth = cfg_.depth;
  std::vector<Device*> replicas = Device::open_replicas(dev, cfg_.replicas);
  const bool host_optimizer = host_optimizer_pays(*replicas[0], int(replicas.size()));
  dp_ = std::make_unique<DataParallel>(
      replicas, cfg_.seed,
      [&](ModuleContext& ctx) {
        ModulePtr m = models::make_model(cfg_.model, ctx, mo);
        set_linear_exec(*m, trainer_linear_exec(*ctx.device, int(replicas.size())));
        return m;
      },
      [&](std::vector<Tensor*> params) {
        auto o = make_optimizer(cfg_.optimizer, std::move(params), cfg_.lr, cfg_.weight_decay, cfg_.momentum);
        o->clip_grad_norm(cfg_.clip_norm);
        o->set_host_update(host_optimizer);
        return o;
      });
  dp_->record_in_threads(threaded_recording_pays(dp_->size()));   // (the loss closure below is per replica)
  model_ = dp_->model_ptr(0);
  opt_ = &dp_->optimizer(0);
  ScheduleOptions so;
  so.kind = cfg_.schedule;
  so.step_size = cfg_.step_size;
  so.gamma = cfg_.gamma;
  so.total_epochs = cfg_.epochs;
  so.warmup_epochs = cfg_.warmup_epochs;
  schedule_ = std::make_unique<LRSchedule>(opt_->lr, so);
}

TrainSnapshot ClassifierTrainer::snapshot() const {
  std::lock_guard<std::mutex> lock(snap_mu_);
  return snap_;
}

void ClassifierTrainer::publish(const TrainSnapshot& s) {
  std::lock_guard<std::mutex> lock(snap_mu_);
  snap_ = s;
}

TestResult ClassifierTrainer::evaluate(const data::Dataset& ds, int max_n, bool flip_tta) {
  NoGradGuard ng;
  dp_->average_buffers();   // the replicas' batch-norm statistics agree before anyone evaluates
  dp_->train(false);
  std::vector<Module*> models;
  for (int q = 0; q < dp_->size(); ++q) models.push_back(&dp_->model(q));
  DeviceForwardScope device_fc(models);   // (the replicas are recorded one after another below)
  TestResult r;
  int n = max_n > 0 ? std::min(max_n, ds.n) : ds.n;
  int C = ds.num_classes;
  r.confusion.assign(size_t(C), std::vector<int64_t>(size_t(C), 0));
  const int B = 500, R = dp_->size();
  // Chunk k goes to replica k % R; each replica's work is submitted as it is recorded.
  std::vector<Tensor> loss_sums;
  for (int q = 0; q < R; ++q) loss_sums.push_back(Tensor::zeros({1}, dp_->device(q)));
  std::vector<Tensor> preds;
  for (int i = 0, k = 0; i < n; i += B, ++k) {
    int b = std::min(B, n - i), q = k % R;
    Device& d = dp_->device(q);
    Module& m = dp_->model(q);
    std::span<const float> xs(ds.image(i), size_t(b) * ds.sample_size());
    Tensor x = Tensor::from(xs, {b, ds.c, ds.h, ds.w}, d);
    Tensor y = Tensor::from(std::span<const int32_t>(ds.labels.data() + i, size_t(b)), {b}, d);
    Tensor logits = m.forward(x);
    if (flip_tta) {
      std::vector<float> mirrored(xs.begin(), xs.end());
      for (int j = 0; j < b; ++j) data::flip_image(mirrored.data() + size_t(j) * ds.sample_size(), ds.c, ds.h, ds.w);
      Tensor xm = Tensor::from(std::span<const float>(mirrored), {b, ds.c, ds.h, ds.w}, d);
      logits = mul(add(logits, m.forward(xm)), 0.5f);
    }
    loss_sums[size_t(q)] = add(loss_sums[size_t(q)], mul(cross_entropy(logits, y).reshape({1}), float(b)));
    preds.push_back(argmax(logits, 1));
    dp_->flush(q);
  }
  int64_t correct = 0, k = 0;
  for (auto& p : preds) {
    for (int32_t v : p.to_ivector()) {
      r.predictions.push_back(v);
      int32_t t = ds.labels[size_t(k++)];
      r.confusion[size_t(t)][size_t(v)]++;
      correct += v == t;
    }
  }
  double loss_sum = 0;
  for (auto& l : loss_sums) loss_sum += l.item();
  r.loss = n ? loss_sum / n : 0;
  r.accuracy = n ? double(correct) / n : 0;
  dp_->train(true);
  return r;
}

TestResult ClassifierTrainer::test(bool flip_tta) { return evaluate(test_, 0, flip_tta); }

int ClassifierTrainer::save_test_mistakes(const TestResult& r, int max) const {
  if (cfg_.out.empty() || r.predictions.size() != size_t(test_.n)) return 0;
  std::vector<float> tiles;
  nlohmann::json list = nlohmann::json::array();
  for (int i = 0; i < test_.n && int(list.size()) < max; ++i) {
    int32_t t = test_.labels[size_t(i)], p = r.predictions[size_t(i)];
    if (t == p) continue;
    tiles.insert(tiles.end(), test_.image(i), test_.image(i) + test_.sample_size());
    auto name = [&](int32_t c) { return size_t(c) < test_.class_names.size() ? test_.class_names[size_t(c)] : std::to_string(c); };
    list.push_back({{"tile", list.size()}, {"index", i}, {"true", t}, {"predicted", p}, {"true_name", name(t)}, {"predicted_name", name(p)}});
  }
  if (list.empty()) return 0;
  const std::string dir = io::RunDir::at(cfg_.out, /*resume=*/true).samples_dir();
  io::ImageGridOptions o;
  o.lo = o.hi = 0.f;   // the images are normalised: stretch each to its own range
  io::write_png_grid(dir + "/test_mistakes.png", tiles, int(list.size()), test_.c, test_.h, test_.w, o);
  io::write_file_atomic(dir + "/test_mistakes.json", nlohmann::json{{"columns", std::min<size_t>(8, list.size())}, {"tiles", list}}.dump(1) + "\n");
  return int(list.size());
}

void ClassifierTrainer::load_model(const std::string& path) {
  io::CheckpointData ck = io::read_checkpoint(path);
  if (!ck.meta.contains("kind") || ck.meta["kind"] != "classifier") throw Error(path + " is not a classifier checkpoint");
  load_module(ck, "model.", *model_);
  dp_->broadcast(0);
}

TrainConfig checkpoint_config(const std::string& path) {
  io::CheckpointData ck = io::read_checkpoint(path);
  if (!ck.meta.contains("kind") || ck.meta["kind"] != "classifier" || !ck.meta.contains("config"))
    throw Error(path + " is not a classifier checkpoint");
  return TrainConfig::from_json(ck.meta["config"]);
}

void ClassifierTrainer::save_checkpoint(int epoch) {
  io::RunDir run = io::RunDir::at(cfg_.out, /*resume=*/true);
  io::CheckpointData ck;
  ck.meta["kind"] = "classifier";
  ck.meta["config"] = cfg_.to_json();
  ck.meta["epoch"] = epoch;
  ck.meta["step"] = step_;
  ck.meta["plateau_scale"] = schedule_->plateau_scale();
  ck.meta["plateau_best"] = schedule_->best();
  ck.meta["plateau_bad"] = schedule_->bad_epochs();
  ck.meta["early_best_val_loss"] = best_val_loss_;
  ck.meta["early_bad_epochs"] = bad_epochs_;
  ck.meta["stopped_early"] = stopped_early_;
  nlohmann::json hist = nlohmann::json::array();
  for (auto& e : history_)
    hist.push_back({{"epoch", e.epoch}, {"train_loss", e.train_loss}, {"train_acc", e.train_acc}, {"val_loss", e.val_loss},
                    {"val_acc", e.val_acc}, {"lr", e.lr}});
  ck.meta["history"] = hist;
  dp_->average_buffers();
  dp_->gather_optimizer_state();   // replica 0 saves the state every replica kept for its shard
  save_module(ck, "model.", *model_);
  save_optimizer(ck, "optim.", *opt_);
  io::write_checkpoint(run.checkpoint_path(step_), ck);   // named by the step counter, as DQN runs
  save_run_manifest(dp_->device(0), run.path());
}

int ClassifierTrainer::load_latest_checkpoint() {
  io::RunDir run = io::RunDir::at(cfg_.out, /*resume=*/true);
  auto path = run.latest_checkpoint();
  if (!path) return 0;
  io::CheckpointData ck = io::read_checkpoint(*path);
  if (!ck.meta.contains("kind") || ck.meta["kind"] != "classifier") throw Error(*path + " is not a classifier checkpoint");
  load_module(ck, "model.", *model_);
  load_optimizer(ck, "optim.", *opt_);
  dp_->broadcast(0);
  schedule_->set_plateau_state(ck.meta["plateau_scale"].get<float>(), ck.meta["plateau_best"].get<float>(), ck.meta["plateau_bad"].get<int>());
  step_ = ck.meta["step"].get<int64_t>();
  best_val_loss_ = ck.meta.value("early_best_val_loss", 1e30);
  bad_epochs_ = ck.meta.value("early_bad_epochs", 0);
  stopped_early_ = ck.meta.value("stopped_early", false);
  history_.clear();
  for (auto& e : ck.meta["history"])
    history_.push_back({e["epoch"].get<int>(), e["train_loss"].get<double>(), e["train_acc"].get<double>(), e["val_loss"].get<double>(),
                        e["val_acc"].get<double>(), e["lr"].get<double>(), 0, 0});
  return ck.meta["epoch"].get<int>() + 1;
}

std::vector<EpochResult> ClassifierTrainer::run() {
  int first_epoch = 0;
  std::unique_ptr<io::MetricsLogger> metrics;
  if (!cfg_.out.empty()) {
    io::RunDir run = io::RunDir::at(cfg_.out, cfg_.resume);
    if (cfg_.resume) {
      // Continue with the run's own settings: everything but kResumableFields must match.
      nlohmann::json saved = run.read_config();
      nlohmann::json have = TrainConfig::from_json(saved).to_json(), want = cfg_.to_json();
      for (auto& [k, v] : want.items()) {
        if (kResumableFields.count(k) || have[k] == v) continue;
        throw Error("--resume: " + k + " " + v.dump() + " differs from the run's " + have[k].dump() + " (" + run.config_path() + ")");
      }
      first_epoch = load_latest_checkpoint();
      if (have != want) {   // e.g. more epochs: config.json describes the run as it continues
        nlohmann::json j = want;
        j["device"] = saved.value("device", dev_.name());
        run.write_config(j);
      }
    } else {
      nlohmann::json j = cfg_.to_json();
      j["device"] = dev_.name();
      run.write_config(j);
    }
    metrics = std::make_unique<io::MetricsLogger>(run.path(), cfg_.resume, cfg_.resume ? std::optional<int64_t>(step_) : std::nullopt);
    if (cfg_.resume) {
      for (int q = 0; q < dp_->size(); ++q) {
        WarmUp w = warm_up_run(dp_->device(q), run.path());
        if (w.pipelines && !cfg_.quiet && q == 0)
          std::fprintf(stderr, "warm-up: %zu pipelines from %s/pipelines.txt in %.0f ms\n", w.pipelines, run.path().c_str(), w.ms);
      }
    }
  }
  data::AugmentOptions ao;
  ao.crop_padding = cfg_.crop_padding;
  ao.horizontal_flip = cfg_.flip;
  ao.erase_probability = cfg_.erasing;
  ao.mixup_alpha = cfg_.mixup;
  data::LoaderOptions lo;
  lo.batch_size = cfg_.batch;
  lo.seed = cfg_.seed;
  if (cfg_.crop_padding || cfg_.flip || cfg_.erasing > 0 || cfg_.mixup > 0) lo.augment = data::make_augmentation(ao);
  data::BatchLoader loader(train_, lo);
  const int64_t per_epoch = loader.batches_per_epoch();
  if (stopped_early_ && !cfg_.quiet)
    std::fprintf(stderr, "early stopping: the run stopped after epoch %d (no validation improvement); nothing to continue\n",
                 history_.empty() ? 0 : history_.back().epoch);
  dp_->train(true);
  const int R = dp_->size();
  for (int epoch = first_epoch; epoch < cfg_.epochs && !stopped_early_; ++epoch) {
    dp_->set_lr(schedule_->lr_for_epoch(epoch));
    loader.start_epoch(epoch);
    io::Progress progress(per_epoch, "epoch " + std::to_string(epoch + 1) + "/" + std::to_string(cfg_.epochs),
                          io::ProgressOptions{.stream = cfg_.quiet ? nullptr : stderr});
    auto t0 = std::chrono::steady_clock::now();
    // Per replica, on its device: sum of shard losses x shard sizes, and of correct predictions.
    std::vector<Tensor> loss_sum, correct_sum;
    for (int q = 0; q < R; ++q) {
      loss_sum.push_back(Tensor::zeros({1}, dp_->device(q)));
      correct_sum.push_back(Tensor::zeros({1}, dp_->device(q)));
    }
    int64_t seen = 0, b = 0;
    double last_loss = 0;
    int64_t last_checked = step_;   // the loss was finite at this step (or the epoch started here)
    while (const data::Batch* batch = loader.next()) {
      const size_t px = size_t(batch->c) * batch->h * batch->w;
      std::vector<DataParallel::Shard> shards = dp_->shards(batch->size);
      std::vector<Tensor> losses = dp_->step(step_, batch->size, [&](int q, const DataParallel::Shard& s) {
        Device& d = dp_->device(q);
        Tensor x = Tensor::from(std::span<const float>(batch->x.data() + size_t(s.begin) * px, size_t(s.count) * px),
                                {s.count, batch->c, batch->h, batch->w}, d);
        Tensor y = Tensor::from(std::span<const int32_t>(batch->y.data() + s.begin, size_t(s.count)), {s.count}, d);
        Tensor logits = dp_->model(q).forward(x);
        Tensor loss = cross_entropy(logits, y, cfg_.label_smoothing);
        if (batch->mixed) {
          Tensor y2 = Tensor::from(std::span<const int32_t>(batch->y_mix.data() + s.begin, size_t(s.count)), {s.count}, d);
          loss = add(mul(loss, batch->mix_lambda), mul(cross_entropy(logits, y2, cfg_.label_smoothing), 1.f - batch->mix_lambda));
        }
        NoGradGuard ng;
        loss_sum[size_t(q)] = add(loss_sum[size_t(q)], mul(loss.detach().reshape({1}), float(s.count)));
        Tensor hit = eq(argmax(logits.detach(), 1).to(DType::f32), y.to(DType::f32));
        correct_sum[size_t(q)] = add(correct_sum[size_t(q)], sum(hit).reshape({1}));
        return loss;
      });
      seen += batch->size;
      step_++;
      b++;
      if (b % cfg_.log_every == 0 || b == per_epoch) {
        last_loss = 0;   // the one sync per report: the batch's loss, the shards' weighted mean
        for (int q = 0; q < R; ++q)
          if (losses[size_t(q)].defined()) last_loss += losses[size_t(q)].item() * shards[size_t(q)].count / batch->size;
        if (!std::isfinite(last_loss))
          throw Error("loss became " + std::to_string(last_loss) + " at step " + std::to_string(step_) + " (epoch " +
                      std::to_string(epoch + 1) + "; finite at step " + std::to_string(last_checked) + ", checked every " +
                      std::to_string(cfg_.log_every) + " steps); stopped, " +
                      (epoch > 0 && !cfg_.out.empty() ? "the checkpoint of epoch " + std::to_string(epoch) + " is kept"
                                                      : std::string("no checkpoint was written yet")));
        last_checked = step_;
        double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        char extra[96];
        std::snprintf(extra, sizeof extra, "loss %.4f  %.0f img/s", last_loss, seen / std::max(secs, 1e-9));
        progress.update(b, extra);
        TrainSnapshot s = snapshot();
        s.step = step_;
        s.total_steps = per_epoch * cfg_.epochs;
        s.epoch = epoch;
        s.loss = last_loss;
        s.images_per_sec = seen / std::max(secs, 1e-9);
        publish(s);
      }
    }
    double train_loss = 0, train_acc = 0;
    for (int q = 0; q < R; ++q) {
      train_loss += loss_sum[size_t(q)].item() / std::max<int64_t>(seen, 1);
      train_acc += correct_sum[size_t(q)].item() / std::max<int64_t>(seen, 1);
    }
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (!std::isfinite(train_loss))
      throw Error("training loss is " + std::to_string(train_loss) + " in epoch " + std::to_string(epoch + 1) + "; stopped, the last good checkpoint is kept");
    EpochResult er{epoch + 1, train_loss, train_acc, 0, 0, opt_->lr, secs, seen / std::max(secs, 1e-9)};
    if (val_.n > 0) {
      TestResult v = evaluate(val_, 0);
      er.val_loss = v.loss;
      er.val_acc = v.accuracy;
      schedule_->report_validation_loss(float(v.loss));
    }
    char extra[160];
    std::snprintf(extra, sizeof extra, "train loss %.4f acc %.4f | val loss %.4f acc %.4f | %.1f s, %.0f img/s", train_loss,
                  train_acc, er.val_loss, er.val_acc, secs, er.images_per_sec);
    progress.finish(extra);
    history_.push_back(er);
    if (metrics)
      metrics->log(step_, {{"epoch", er.epoch}, {"train_loss", train_loss}, {"train_acc", train_acc}, {"val_loss", er.val_loss},
                           {"val_acc", er.val_acc}, {"lr", er.lr}, {"seconds", secs}, {"images_per_sec", er.images_per_sec}});
    if (val_.n > 0 && cfg_.early_stopping > 0) {
      if (er.val_loss < best_val_loss_) best_val_loss_ = er.val_loss, bad_epochs_ = 0;
      else if (++bad_epochs_ >= cfg_.early_stopping) {
        stopped_early_ = true;
        if (!cfg_.quiet) std::fprintf(stderr, "early stopping: no validation improvement for %d epochs\n", bad_epochs_);
      }
    }
    if (!cfg_.out.empty()) save_checkpoint(epoch);
    TrainSnapshot s = snapshot();
    s.epochs = history_;
    publish(s);
  }
  TrainSnapshot s = snapshot();
  s.finished = true;
  publish(s);
  return history_;
}

}  // namespace vkwb::nn
