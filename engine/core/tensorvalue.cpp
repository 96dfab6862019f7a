#include "engine/core/tensorvalue.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <sstream>
#include <stdexcept>

namespace pellucid {

std::string shapeToString(const Shape &shape)
{
    std::ostringstream out;
    out << '[';
    for (size_t i = 0; i < shape.size(); ++i) out << (i ? ", " : "") << shape[i];
    out << ']';
    return out.str();
}

int64_t shapeNumel(const Shape &shape)
{
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    return n;
}

TensorValue::TensorValue(Shape shape, std::vector<float> values) : mShape(std::move(shape))
{
    if (shapeNumel(mShape) != int64_t(values.size()))
        throw std::invalid_argument("tensor shape " + shapeToString(mShape) + " does not hold " + std::to_string(values.size()) + " values");
    mData = std::make_shared<const std::vector<float>>(std::move(values));
}

int64_t TensorValue::dim(int i) const
{
    const int n = int(mShape.size());
    if (i < 0) i += n;
    if (i < 0 || i >= n) throw std::out_of_range("dimension out of range for shape " + shapeToString(mShape));
    return mShape[size_t(i)];
}

TensorValue TensorValue::slice0(int64_t index) const
{
    if (mShape.empty() || index < 0 || index >= mShape[0]) throw std::out_of_range("index out of range for shape " + shapeToString(mShape));
    Shape rest(mShape.begin() + 1, mShape.end());
    const int64_t n = shapeNumel(rest);
    const float *begin = data() + index * n;
    return TensorValue(rest, std::vector<float>(begin, begin + n)).withDtype(mDtype);
}

bool TensorValue::isInteger() const
{
    return mDtype == "int64" || mDtype == "int32" || mDtype == "int16" || mDtype == "int8" || mDtype == "uint8" || mDtype == "uint16"
        || mDtype == "uint32" || mDtype == "bool";
}

TensorValue TensorValue::rows(int64_t begin, int64_t end) const
{
    if (mShape.empty() || begin < 0 || end < begin || end > mShape[0])
        throw std::out_of_range("rows [" + std::to_string(begin) + ", " + std::to_string(end) + ") out of range for shape " + shapeToString(mShape));
    const int64_t per = mShape[0] ? numel() / mShape[0] : 0;
    Shape sh = mShape;
    sh[0] = end - begin;
    return TensorValue(sh, std::vector<float>(data() + begin * per, data() + end * per)).withDtype(mDtype);
}

TensorValue concatRows(const std::vector<TensorValue> &parts)
{
    if (parts.empty()) return TensorValue();
    Shape sh = parts.front().shape();
    if (sh.empty()) throw std::invalid_argument("concatRows needs tensors with a first dimension");
    std::vector<float> all;
    int64_t n = 0;
    for (const TensorValue &t : parts) {
        if (t.shape().size() != sh.size() || !std::equal(sh.begin() + 1, sh.end(), t.shape().begin() + 1))
            throw std::invalid_argument("concatRows: " + shapeToString(t.shape()) + " does not stack with " + shapeToString(sh));
        all.insert(all.end(), t.data(), t.data() + t.numel());
        n += t.shape()[0];
    }
    sh[0] = n;
    return TensorValue(sh, std::move(all));
}

TensorValue::Stats TensorValue::stats() const
{
    Stats s;
    float lo = std::numeric_limits<float>::infinity(), hi = -lo;
    double sum = 0;
    int64_t finite = 0;
    for (int64_t i = 0; i < numel(); ++i) {
        const float v = at(i);
        if (std::isnan(v)) {
            ++s.nanCount;
            continue;
        }
        if (std::isinf(v)) {
            ++s.infCount;
            continue;
        }
        lo = std::min(lo, v);
        hi = std::max(hi, v);
        sum += v;
        ++finite;
    }
    if (finite > 0) {
        s.min = lo;
        s.max = hi;
        s.mean = sum / double(finite);
    }
    return s;
}

Histogram computeHistogram(const TensorValue &t, int bins)
{
    Histogram h;
    const TensorValue::Stats s = t.stats();
    h.lo = s.min;
    h.hi = s.max > s.min ? s.max : s.min + 1.0f;
    h.counts.assign(size_t(std::max(1, bins)), 0);
    const double scale = double(h.counts.size()) / double(h.hi - h.lo);
    for (int64_t i = 0; i < t.numel(); ++i) {
        const float v = t.at(i);
        if (!std::isfinite(v)) continue;
        auto b = int64_t((double(v) - h.lo) * scale);
        b = std::clamp<int64_t>(b, 0, int64_t(h.counts.size()) - 1);
        ++h.counts[size_t(b)];
    }
    return h;
}

std::vector<ChannelStats> computeChannelStats(const TensorValue &t)
{
    std::vector<ChannelStats> out;
    const Shape &s = t.shape();
    if (s.size() < 2) return out;
    // [N, C] -> each feature is a "channel" of one value; [N, C, ...] -> spatial maps.
    const int64_t channels = s[1];
    const int64_t per = s.size() == 2 ? 1 : shapeNumel(Shape(s.begin() + 2, s.end()));
    out.resize(size_t(channels));
    for (int64_t c = 0; c < channels; ++c) {
        ChannelStats cs;
        double sum = 0;
        int64_t finite = 0;
        float lo = std::numeric_limits<float>::infinity(), hi = -lo;
        for (int64_t i = 0; i < per; ++i) {
            const float v = t.at(c * per + i);
            if (!std::isfinite(v)) {
                ++cs.nonFinite;
                continue;
            }
            sum += v;
            ++finite;
            lo = std::min(lo, v);
            hi = std::max(hi, v);
        }
        if (finite) {
            cs.mean = float(sum / double(finite));
            cs.min = lo;
            cs.max = hi;
        }
        out[size_t(c)] = cs;
    }
    return out;
}

}   // namespace pellucid
