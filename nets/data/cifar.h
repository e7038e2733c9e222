// CIFAR-10 binary format: each batch file is a sequence of 3073-byte records, one label byte
// (0..9) then 3072 pixel bytes as three 32x32 planes R, G, B. The training split is
// data_batch_1.bin .. data_batch_5.bin, the test split test_batch.bin.
#pragma once
#include <string>

#include "nets/data/dataset.h"

namespace vkwb::data {

inline constexpr int kCifarRecordBytes = 1 + 3 * 32 * 32;

// Reads one batch file into a Dataset (pixels / 255). Any whole number of records is accepted, so
// small generated files work; a size that is not a multiple of the record size is an error.
Dataset read_cifar10_batch(const std::string& path);

// Loads "train" or "test" from `dir`, or from `dir`/cifar-10-batches-bin if the files are there
// (the layout of the official archive).
Dataset load_cifar10(const std::string& dir, const std::string& split = "train");

}  // namespace vkwb::data
