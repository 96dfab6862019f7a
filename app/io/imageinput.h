#pragma once
// Images to model inputs, per the model's metadata (OpenCV): decode, convert channels (gray / RGB / BGR),
// resize to the input size, scale to the value range, normalise by mean/std, lay out as NCHW.
// Shared by the GUI and pellucid-cli so both feed the model identical tensors.
#include "engine/runtime/metadata.h"
#include "engine/core/tensorvalue.h"

#include <string>
#include <vector>

namespace pellucid {

/// Throws Error(BadInput) naming the file when it cannot be decoded.
TensorValue imageFileToTensor(const std::string &path, const InputSpec &spec, const Shape &modelInput);
/// The same preprocessing for an encoded image in memory (PNG, JPEG, …): a drawing, a frame.
/// A BGR frame (rows × cols × 3 bytes) with the same preprocessing as an image file.
TensorValue bgrToTensor(const unsigned char *bgr, int width, int height, const InputSpec &spec, const Shape &modelInput);
TensorValue imageBytesToTensor(const std::vector<unsigned char> &bytes, const InputSpec &spec, const Shape &modelInput);

/// `.npy` is used exactly as given; anything else is decoded as an image.
TensorValue loadInputFile(const std::string &path, const InputSpec &spec, const Shape &modelInput);

/// A grid of the channel maps of the first batch element, viridis-coloured, written as PNG (OpenCV).
void writeActivationPng(const std::string &path, const TensorValue &activation);

/// Images [N, C, H, W] (values in [0, 1]) as one PNG grid of `cols` columns (grey or RGB; OpenCV).
void writeImageGridPng(const std::string &path, const TensorValue &images, int cols = 0);

/// Images [N, C, H, W] (values in [0, 1]) as an animation: an animated GIF (giflib; 256-colour palette,
/// looping) or an MP4 (OpenCV's video writer, mp4v), one frame per image at `fps`. Temp file + rename.
void writeAnimation(const std::string &path, const TensorValue &images, double fps = 8, int scale = 4);

/// SLIC superpixels (OpenCV ximgproc, SLICO) of a [1, C, H, W] input: an [H, W] map of segment ids, for
/// LIME and KernelSHAP. `regionSize` is the approximate superpixel side in pixels.
TensorValue slicSegments(const TensorValue &input, int regionSize, float ruler = 10.0f);

/// The input (channel mean, grey) with an attribution map laid over it, written as PNG (OpenCV). Signed maps
/// use a diverging blue–white–red scale centred on 0; magnitudes use viridis. CAM maps are upsampled.
void writeAttributionPng(const std::string &path, const TensorValue &input, const TensorValue &map, bool signedMap);

}   // namespace pellucid
