#pragma once
// Labelled datasets for evaluation: an image folder with one sub-folder per class, IDX files
// (Fashion-MNIST / MNIST, gzipped or not, the labels file found beside the images file), or a CSV of
// (path, label). Items are preprocessed per the model's metadata like every other input.
#include "engine/runtime/metadata.h"
#include "engine/core/tensorvalue.h"

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace pellucid {

class Dataset {
public:
    /// Throws Error naming the problem (missing folder, unreadable IDX, a CSV line without a label, ...).
    /// `classNames` (the model's labels) map class folder names to indices when they match. A folder of
    /// IDX files (/usr/share/datasets/fashion-mnist) opens one split: `split` "test" (t10k-*, the default
    /// when empty) or "train" (train-*); note() says which file was used.
    static Dataset open(const std::string &path, const std::vector<std::string> &classNames = {}, const std::string &split = {});
    /// What opening chose on the caller's behalf ("the test split: t10k-images-idx3-ubyte.gz"); empty if nothing.
    const std::string &note() const { return mNote; }

    size_t size() const { return mLabels.size(); }
    int label(size_t i) const { return mLabels[i]; }
    const std::vector<int> &labels() const { return mLabels; }
    std::string itemName(size_t i) const;
    std::string kind() const { return mKind; }

    /// Items [begin, end) preprocessed and stacked into one [n, C, H, W] batch.
    TensorValue batch(size_t begin, size_t end, const InputSpec &spec, const Shape &modelInput) const;

private:
    std::string mKind;   // "folder", "idx" or "csv"
    std::string mNote;
    std::vector<std::string> mPaths;   // folder / csv
    std::vector<uint8_t> mPixels;      // idx: N × H × W
    int64_t mRows = 0, mCols = 0;
    std::vector<int> mLabels;
};

class Model;

/// An encoder's codes — its first output (a VAE encoder's posterior means) — for the first `limit` items, flattened
/// per item; batches of 256 preprocessed
/// for the encoder: [n, D]. `beforeBatch(done, total)` runs before each batch (progress; cancel by throwing).
TensorValue encodeDataset(Model &encoder, const Dataset &data, size_t limit, const std::function<void(size_t done, size_t total)> &beforeBatch = {});

}   // namespace pellucid
