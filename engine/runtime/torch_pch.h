#pragma once
// Precompiled header for the engine's torch translation units only (see engine/CMakeLists.txt).
#include <torch/script.h>
#include <torch/torch.h>
#include <torch/csrc/jit/ir/ir.h>
#include <torch/csrc/jit/api/function_impl.h>
