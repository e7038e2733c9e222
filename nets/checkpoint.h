// Model and optimizer state <-> checkpoint blobs (nets/io/checkpoint_file.h holds the format).
// Tensors are stored as f32 blobs named "<prefix><dotted name>"; loading checks every name and
// shape and fails with a clear message, leaving the model untouched on error.
#pragma once
#include <string>

#include "nets/io/checkpoint_file.h"
#include "nets/module.h"
#include "nets/optim.h"

namespace vkwb::nn {

void save_module(io::CheckpointData& ck, const std::string& prefix, Module& m);
void load_module(const io::CheckpointData& ck, const std::string& prefix, Module& m);
void save_optimizer(io::CheckpointData& ck, const std::string& prefix, const Optimizer& o);
void load_optimizer(const io::CheckpointData& ck, const std::string& prefix, Optimizer& o);

io::Blob tensor_blob(const Tensor& t);                                     // f32/i32 tensors
Tensor blob_tensor(const io::Blob& b, Device& dev, const std::string& what);

}  // namespace vkwb::nn
