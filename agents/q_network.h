// QNetwork: the DQN function approximator, observation planes [N, C, H, W] -> Q-values [N, A].
//   conv: Conv 16@3x3 stride 1 -> ReLU -> flatten -> FC hidden -> ReLU -> FC A   (MinAtar baseline;
//         zero padding 1 only when the observation is smaller than 5x5, e.g. tiny grid maps)
//   mlp:  flatten -> FC hidden -> ReLU -> FC hidden -> ReLU -> FC A
// Dueling (Wang et al. 2016): the part after the trunk is duplicated into a value stream (-> 1)
// and an advantage stream (-> A), combined as Q = V + A - mean_a A.
#pragma once
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "agents/host_q_net.h"
#include "envs/env.h"
#include "nets/layers.h"

namespace vkwb::agents {

struct QNetworkOptions {
  envs::ObsShape obs;
  int num_actions = 0;
  std::string kind = "conv";   // conv or mlp
  int hidden = 128;
  bool dueling = false;
  // Where the hidden Linear layers (everything but the output layers) compute
  // (vkwb::LinearExec: device, or on the host core next to a CPU driver's queue thread).
  LinearExec hidden_exec = LinearExec::device;
};

class QNetwork : public nn::Module {
 public:
  QNetwork(nn::ModuleContext& ctx, const QNetworkOptions& o);
  Tensor forward(const Tensor& x) override;   // head(features(x))
  Tensor features(const Tensor& x);            // the trunk: the convolution (or the MLP's first layer)
  Tensor head(const Tensor& h);                // the rest: Q-values [N, A] from the trunk's output
  std::string type_name() const override { return "QNetwork"; }
  const QNetworkOptions& options() const { return opt_; }

  // An empty HostQNet of the same shape; copy_weights fills it from this network (syncs).
  HostQNet make_host() const;
  void copy_weights(HostQNet& host);

  // The parameters in HostQNet layer order, as (weight, bias) pairs.
  std::vector<std::pair<Tensor*, Tensor*>> layer_params();

 private:
  QNetworkOptions opt_;
  std::shared_ptr<nn::Sequential> trunk_, q_, v_;
  std::vector<std::shared_ptr<nn::Module>> param_layers_;   // in HostQNet order
  HostQNet layout_;
};

}  // namespace vkwb::agents
