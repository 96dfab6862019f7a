#pragma once
// NumPy .npy files: read (float16/32/64, signed/unsigned integers, bool; C or Fortran order) into
// float32, and write float32 in C order. Errors throw pellucid::Error naming the file and the problem.
#include "engine/core/tensorvalue.h"

#include <string>

namespace pellucid {

TensorValue readNpy(const std::string &path);
/// Writes to PATH.tmp first, then renames, so a failed write never leaves a half-written file.
void writeNpy(const std::string &path, const TensorValue &t);

}   // namespace pellucid
