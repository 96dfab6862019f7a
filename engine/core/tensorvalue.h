#pragma once
// Plain value types shared between the engine and its users: no torch types cross this boundary.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace pellucid {

using Shape = std::vector<int64_t>;

std::string shapeToString(const Shape &shape);   // "[1, 3, 28, 28]"
int64_t shapeNumel(const Shape &shape);

/// An immutable float32 tensor in C order. Copies share the buffer.
class TensorValue {
public:
    TensorValue() = default;
    TensorValue(Shape shape, std::vector<float> values);

    const Shape &shape() const { return mShape; }
    /// The element type the values came as ("float32" unless a .npy said otherwise: "int64", "int32",
    /// "bool", "uint8", "float64", …). The values are held as float32 — exactly, for integers up to ±2^24.
    const std::string &dtype() const { return mDtype; }
    bool isInteger() const;
    TensorValue withDtype(const std::string &dtype) const
    {
        TensorValue t = *this;
        t.mDtype = dtype;
        return t;
    }
    const float *data() const { return mData ? mData->data() : nullptr; }
    int64_t numel() const { return mData ? int64_t(mData->size()) : 0; }
    bool empty() const { return numel() == 0 && mShape.empty(); }
    int64_t dim(int i) const;   // negative i counts from the end
    float at(int64_t flatIndex) const { return (*mData)[size_t(flatIndex)]; }

    /// Element [index, ...] of the first dimension as its own tensor (a copy).
    TensorValue slice0(int64_t index) const;
    /// Rows [begin, end) of the first dimension, which is kept (a copy).
    TensorValue rows(int64_t begin, int64_t end) const;

    struct Stats {
        int64_t nanCount = 0;
        int64_t infCount = 0;
        float min = 0, max = 0;   // over finite values
        double mean = 0;          // over finite values
    };
    Stats stats() const;

private:
    Shape mShape;
    std::shared_ptr<const std::vector<float>> mData;
    std::string mDtype = "float32";
};

/// Tensors stacked along their first dimension (the other dimensions must agree); empty for no parts.
TensorValue concatRows(const std::vector<TensorValue> &parts);

/// Summary of one channel of a [N, C, ...] activation.
struct ChannelStats {
    float mean = 0, max = 0, min = 0;
    int64_t nonFinite = 0;
};

/// Fixed-width histogram over the finite values.
struct Histogram {
    float lo = 0, hi = 0;
    std::vector<int64_t> counts;
};

Histogram computeHistogram(const TensorValue &t, int bins);
/// Channel statistics of the first batch element, treating dim 1 as channels (dim -1 for [N, C]).
std::vector<ChannelStats> computeChannelStats(const TensorValue &t);

}   // namespace pellucid
