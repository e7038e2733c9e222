// vkwb train / eval / models: image classifiers on Fashion-MNIST (or MNIST, CIFAR-10).
#include <cstdio>
#include <fstream>
#include <set>

#include <nlohmann/json.hpp>
#include <toml++/toml.h>

#include "apps/cli.h"
#include "nets/io/run_dir.h"
#include "nets/train.h"

namespace vkwb::app {
namespace {

// A config file -> JSON object: JSON (*.json, nlohmann-json) or TOML (anything else, toml++).
// Only top-level keys (the train options, '-' or '_'); strings, integers, floats and booleans.
nlohmann::json read_config_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw Error("cannot open config file " + path);
  if (path.size() > 5 && path.substr(path.size() - 5) == ".json") {
    try {
      nlohmann::json j = nlohmann::json::parse(in);
      if (!j.is_object()) throw Error("config file " + path + ": expected a JSON object");
      return j;
    } catch (const nlohmann::json::exception& e) {
      throw Error("config file " + path + ": invalid JSON: " + e.what());
    }
  }
  toml::table t;
  try {
    t = toml::parse_file(path);
  } catch (const toml::parse_error& e) {
    const auto& where = e.source().begin;
    throw Error("config file " + path + ":" + std::to_string(where.line) + ": " + std::string(e.description()));
  }
  nlohmann::json j = nlohmann::json::object();
  for (auto&& [k, v] : t) {
    std::string key(k.str());
    for (auto& c : key)
      if (c == '-') c = '_';
    std::string at = "config file " + path + ":" + std::to_string(v.source().begin.line) + ": ";
    if (auto x = v.as_string()) j[key] = x->get();
    else if (auto x = v.as_integer()) j[key] = x->get();
    else if (auto x = v.as_floating_point()) j[key] = x->get();
    else if (auto x = v.as_boolean()) j[key] = x->get();
    else throw Error(at + "'" + key + "' must be a string, number or boolean (tables and arrays are not options)");
  }
  return j;
}

struct TrainArgs {
  nn::TrainConfig cfg;
  std::string config_file;
  std::string replicas = "auto";
  bool json = false;
};

void print_confusion(const nn::TestResult& r) {
  std::printf("confusion matrix (rows: true class, columns: predicted)\n");
  for (auto& row : r.confusion) {
    for (auto v : row) std::printf("%6lld", (long long)v);
    std::printf("\n");
  }
}

nlohmann::json result_json(const nn::TestResult& r) {
  return {{"test_loss", r.loss}, {"test_accuracy", r.accuracy}, {"confusion", r.confusion}};
}

void register_train(CLI::App& app) {
  auto* cmd = app.add_subcommand("train", "train an image classifier (headless)");
  auto a = std::make_shared<TrainArgs>();
  auto& c = a->cfg;
  cmd->add_option("--config", a->config_file, "*.json or TOML file with any of these options as top-level keys (command-line flags override it)");
  cmd->add_option("--model", c.model, "model (see `vkwb models`)")->capture_default_str();
  cmd->add_option("--data", c.data, "fashion-mnist, mnist or cifar10")->capture_default_str();
  cmd->add_option("--data-dir", c.data_dir, "directory with the data files (default: /usr/share/datasets/fashion-mnist)");
  cmd->add_option("--epochs", c.epochs, "epochs")->capture_default_str();
  cmd->add_option("--batch", c.batch, "batch size")->capture_default_str();
  cmd->add_option("--optimizer", c.optimizer, "sgd, momentum, nesterov, adagrad, adadelta, rmsprop, rmsprop_centered, adam, adamw")->capture_default_str();
  cmd->add_option("--lr", c.lr, "learning rate (default: the optimizer's)");
  cmd->add_option("--momentum", c.momentum, "momentum for momentum/nesterov")->capture_default_str();
  cmd->add_option("--weight-decay", c.weight_decay, "L2 weight decay (decoupled for adamw, where 0 means its default 0.01)")->capture_default_str();
  cmd->add_option("--schedule", c.schedule, "lr schedule: constant, step, cosine, plateau")->capture_default_str();
  cmd->add_option("--step-size", c.step_size, "step schedule: epochs per decay")->capture_default_str();
  cmd->add_option("--gamma", c.gamma, "step/plateau decay factor")->capture_default_str();
  cmd->add_option("--warmup", c.warmup_epochs, "linear warmup epochs")->capture_default_str();
  cmd->add_option("--clip-norm", c.clip_norm, "clip gradients to this global L2 norm (0: off)")->capture_default_str();
  cmd->add_option("--label-smoothing", c.label_smoothing, "label smoothing")->capture_default_str();
  cmd->add_option("--val-size", c.val_size, "validation images held out of the training set")->capture_default_str();
  cmd->add_option("--early-stopping", c.early_stopping, "stop after N epochs without validation improvement (0: off)")->capture_default_str();
  cmd->add_option("--crop-padding", c.crop_padding, "augmentation: random crop with this zero padding")->capture_default_str();
  cmd->add_flag("--flip", c.flip, "augmentation: random horizontal flip");
  cmd->add_option("--erasing", c.erasing, "augmentation: random-erasing probability")->capture_default_str();
  cmd->add_option("--mixup", c.mixup, "mixup alpha (0: off)")->capture_default_str();
  cmd->add_option("--width", c.width, "model width multiplier")->capture_default_str();
  cmd->add_flag("--batch-norm", c.batch_norm, "VGG: batch norm after every conv");
  cmd->add_option("--dropout", c.dropout, "classifier dropout")->capture_default_str();
  cmd->add_option("--depth", c.depth, "ResNet/DenseNet depth (0: default)")->capture_default_str();
  cmd->add_option("--limit-train", c.limit_train, "use only the first N training images")->capture_default_str();
  cmd->add_option("--limit-test", c.limit_test, "use only the first N test images")->capture_default_str();
  cmd->add_option("--seed", c.seed, "seed for weights, data order, augmentation and dropout")->capture_default_str();
  cmd->add_option("--out", c.out, "run directory (config.json, metrics.csv, checkpoints/); empty: write nothing");
  cmd->add_flag("--resume", c.resume, "continue the run in --out from its latest checkpoint");
  cmd->add_option("--log-every", c.log_every, "steps between progress updates")->capture_default_str();
  cmd->add_option("--replicas", a->replicas,
                  "data-parallel replicas, each training on a shard of every batch: N, or auto (one per core on a CPU "
                  "driver such as lavapipe, else 1); a resumed run keeps its own")
      ->capture_default_str();
  cmd->add_flag("--quiet", c.quiet, "no progress output");
  cmd->add_flag("--json", a->json, "print the final result as JSON");
  cmd->callback([a, cmd] {
    if (a->replicas == "auto") {
      a->cfg.replicas = 0;   // resolved once the device is open
    } else {
      try {
        size_t used = 0;
        a->cfg.replicas = std::stoi(a->replicas, &used);
        if (used != a->replicas.size() || a->cfg.replicas < 1) throw std::invalid_argument("");
      } catch (const std::exception&) {
        throw Error("--replicas: expected a positive number or auto, got '" + a->replicas + "'");
      }
    }
    nn::TrainConfig cfg = a->cfg;
    std::set<std::string> given;   // TrainConfig keys set on the command line (then also those of the config file)
    for (auto* opt : cmd->get_options()) {
      if (opt->count() == 0) continue;
      std::string key = opt->get_name();
      if (key.rfind("--", 0) == 0) key = key.substr(2);
      for (auto& ch : key)
        if (ch == '-') ch = '_';
      given.insert(key == "warmup" ? "warmup_epochs" : key);
    }
    const bool auto_given = a->cfg.replicas == 0 && cmd->get_option("--replicas")->count() > 0;
    if (a->cfg.replicas == 0) given.erase("replicas");   // auto: the default (a resumed run keeps its own)
    if (!a->config_file.empty()) {
      // File values first, then every flag given on the command line wins.
      nlohmann::json file = read_config_file(a->config_file);
      nlohmann::json cli = a->cfg.to_json();
      nlohmann::json merged = file;
      for (const auto& key : given)
        if (cli.contains(key)) merged[key] = cli[key];
      for (auto& [k, v] : file.items())
        if (!cli.contains(k) && k != "warmup") throw Error("config file " + a->config_file + ": unknown option '" + k + "'");
      if (file.contains("warmup")) merged["warmup_epochs"] = file["warmup"];
      if (merged.contains("replicas") && merged["replicas"] == "auto") merged["replicas"] = 0;
      if (auto_given) merged["replicas"] = 0;   // --replicas auto on the command line wins too
      try {
        cfg = nn::TrainConfig::from_json(merged);
      } catch (const nlohmann::json::exception& e) {
        throw Error("config file " + a->config_file + ": " + e.what());
      }
      cfg.out = a->cfg.out;
      cfg.resume = a->cfg.resume;
      cfg.quiet = a->cfg.quiet;
      if (file.contains("out") && cfg.out.empty()) cfg.out = file["out"].get<std::string>();
      for (auto& [k, v] : file.items()) given.insert(k == "warmup" ? "warmup_epochs" : k);
    }
    if (!given.count("replicas")) cfg.replicas = 0;   // auto, unless a flag or the config file says otherwise
    if (cfg.replicas < 0) throw Error("replicas: expected a positive number or auto, got " + std::to_string(cfg.replicas));
    if (cfg.resume) {
      // A resumed run continues with its own config.json; flags given again must agree with it,
      // except the few that may change (nn::kResumableFields).
      if (cfg.out.empty()) throw Error("--resume needs --out (the run directory to continue)");
      const io::RunDir run = io::RunDir::at(cfg.out, /*resume=*/true);
      const std::string path = run.config_path();
      nlohmann::json saved_json = run.read_config();
      nlohmann::json want = cfg.to_json(), have = nn::TrainConfig::from_json(saved_json).to_json();
      for (const auto& k : given) {
        if (!want.contains(k)) continue;
        if (nn::kResumableFields.count(k)) have[k] = want[k];
        else if (want[k] != have[k]) {
          std::string flag = k == "warmup_epochs" ? "warmup" : k;
          for (auto& ch : flag)
            if (ch == '_') ch = '-';
          auto show = [](const nlohmann::json& v) {
            if (!v.is_number_float()) return v.dump();
            char b[32];
            std::snprintf(b, sizeof b, "%.6g", v.get<double>());
            return std::string(b);
          };
          throw Error("--resume: --" + flag + " " + show(want[k]) + " differs from the run's " + show(have[k]) + " (" + path +
                      "); only --epochs, --data-dir, --log-every and --limit-test may change");
        }
      }
      nn::TrainConfig resumed = nn::TrainConfig::from_json(have);
      resumed.out = cfg.out;
      resumed.resume = true;
      resumed.quiet = cfg.quiet;
      cfg = resumed;
    }
    Device& dev = open_device();
    if (cfg.replicas == 0) cfg.replicas = nn::auto_replicas(dev, cfg.batch);
    if (!cfg.quiet) std::fprintf(stderr, "vkwb train: %s on %s, device %s%s, seed %llu\n", cfg.model.c_str(), cfg.data.c_str(),
                                 dev.name().c_str(), cfg.replicas > 1 ? (" x " + std::to_string(cfg.replicas) + " replicas").c_str() : "",
                                 (unsigned long long)cfg.seed);
    nn::ClassifierTrainer trainer(dev, cfg);
    auto hist = trainer.run();
    nn::TestResult r = trainer.test();
    int mistakes = trainer.save_test_mistakes(r);
    if (a->json) {
      nlohmann::json j = result_json(r);
      nlohmann::json epochs = nlohmann::json::array();
      for (auto& e : hist)
        epochs.push_back({{"epoch", e.epoch}, {"train_loss", e.train_loss}, {"train_acc", e.train_acc}, {"val_loss", e.val_loss},
                          {"val_acc", e.val_acc}, {"seconds", e.seconds}, {"images_per_sec", e.images_per_sec}});
      j["epochs"] = epochs;
      j["model"] = cfg.model;
      j["parameters"] = trainer.model().num_parameters();
      if (mistakes) j["mistakes_png"] = cfg.out + "/samples/test_mistakes.png";
      std::printf("%s\n", j.dump(2).c_str());
    } else {
      std::printf("test accuracy %.4f, test loss %.4f (%zu epochs, %lld parameters)\n", r.accuracy, r.loss, hist.size(),
                  (long long)trainer.model().num_parameters());
      print_confusion(r);
      if (mistakes) std::printf("%d misclassified test images: %s/samples/test_mistakes.png (labels in test_mistakes.json)\n", mistakes, cfg.out.c_str());
    }
  });
}

void register_eval(CLI::App& app) {
  auto* cmd = app.add_subcommand("eval", "test accuracy of a classifier checkpoint");
  auto path = std::make_shared<std::string>();
  auto json = std::make_shared<bool>(false);
  auto data_dir = std::make_shared<std::string>();
  auto tta = std::make_shared<std::string>("none");
  cmd->add_option("--checkpoint", *path, "checkpoint file (runs/NAME/checkpoints/...)")->required();
  cmd->add_option("--tta", *tta, "test-time augmentation: none, or flip (average the logits of each image and its mirror)")
      ->check(CLI::IsMember({"none", "flip"}))
      ->capture_default_str();
  cmd->add_option("--data-dir", *data_dir, "data directory (default: the one used for training)");
  cmd->add_flag("--json", *json, "print JSON");
  cmd->callback([path, json, data_dir, tta] {
    nn::TrainConfig cfg = nn::checkpoint_config(*path);
    if (!data_dir->empty()) cfg.data_dir = *data_dir;
    cfg.out.clear();
    cfg.quiet = true;
    cfg.limit_test = 0;
    Device& dev = open_device();
    cfg.replicas = nn::auto_replicas(dev, cfg.batch);   // this machine's, not the training run's
    nn::ClassifierTrainer t(dev, cfg);
    t.load_model(*path);
    nn::TestResult r = t.test(*tta == "flip");
    if (*json) {
      nlohmann::json j = result_json(r);
      j["model"] = cfg.model;
      j["checkpoint"] = *path;
      j["tta"] = *tta;
      std::printf("%s\n", j.dump(2).c_str());
    } else {
      std::printf("%s: %s test accuracy %.4f, test loss %.4f%s\n", path->c_str(), cfg.model.c_str(), r.accuracy, r.loss,
                  *tta == "flip" ? " (flip test-time augmentation)" : "");
      print_confusion(r);
    }
  });
}

void register_models(CLI::App& app) {
  auto* cmd = app.add_subcommand("models", "list the model zoo with parameter counts");
  auto size = std::make_shared<int>(28);
  auto channels = std::make_shared<int>(1);
  auto width = std::make_shared<float>(1.f);
  cmd->add_option("--image-size", *size, "input size (28 or 32)")->capture_default_str();
  cmd->add_option("--channels", *channels, "input channels")->capture_default_str();
  cmd->add_option("--width", *width, "width multiplier")->capture_default_str();
  cmd->callback([size, channels, width] {
    Device& dev = Device::cpu();   // parameter counts only: no need for a GPU
    for (auto& m : nn::models::registry()) {
      nn::ModuleContext ctx(dev, 1);
      nn::models::ModelOptions o;
      o.image_size = *size;
      o.in_channels = *channels;
      o.width = *width;
      auto net = m.make(ctx, o);
      std::printf("%-14s %12lld params  %s\n", m.name.c_str(), (long long)net->num_parameters(), m.description.c_str());
    }
  });
}

}  // namespace

static Registrar reg_train(30, register_train);
static Registrar reg_eval(40, register_eval);
static Registrar reg_models(20, register_models);

}  // namespace vkwb::app
