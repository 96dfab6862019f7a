#!/bin/bash
# GPU figures for issues 7 and 19, on a machine with an NVIDIA GPU, PyTorch (CUDA), CMake and Ninja but no Qt:
# builds the engine headless against that PyTorch's LibTorch, traces a ResNet-50 with torchvision there,
# and runs pellucid-bench on it (fp32, then bf16 and fp16 for forward-only work). Output: gpu-bench/*.txt|json.
# Usage: packaging/gpu-bench.sh [OUT_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-gpu-bench}
mkdir -p "$out"
py=${PYTHON:-python3}
prefix=$("$py" -c 'import torch; print(torch.utils.cmake_prefix_path)')
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader > "$out/gpu.txt" || true
cmake -S . -B build-gpu -G Ninja -DPELLUCID_GUI=OFF -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$prefix" > "$out/cmake.txt"
ninja -C build-gpu pellucid-bench > "$out/build.txt"
"$py" - "$out/resnet50.pt" <<'PY'
import sys, torch
try:
    import torchvision
    m = torchvision.models.resnet50().eval()   # random weights: timings do not depend on them
except ImportError:
    sys.exit("torchvision is needed for the ResNet-50")
torch.jit.trace(m, torch.rand(1, 3, 224, 224)).save(sys.argv[1])
PY
for p in fp32 bf16 fp16; do
  ./build-gpu/engine/pellucid-bench --device cuda --model "$out/resnet50.pt" --input-shape 1,3,224,224 --layer layer3 \
    --live-only --live-frames 1000 --iterations 200 --precision $p --json "$out/resnet50_$p.json" | tee "$out/resnet50_$p.txt"
done
# Every method against its own raw batched passes on ResNet-50 (issue 19: IG-50 <= 1.05x one batched forward +
# backward of its 50 points), and the evaluation throughput.
./build-gpu/engine/pellucid-bench --device cuda --model "$out/resnet50.pt" --input-shape 1,3,224,224 --layer layer4 \
  --iterations 20 --attribution-reps 5 --json "$out/resnet50_methods.json" | tee "$out/resnet50_methods.txt" || true
./build-gpu/engine/pellucid-bench --device cuda --live-frames 10000 --attribution-reps 0 --json "$out/demo.json" | tee "$out/demo.txt"
# Issue 19: every method beside Captum 0.8.0 on the GPU (fp32; Captum's eager ResNet-50 for guided backprop and
# Grad-CAM). Captum is found at PELLUCID_CAPTUM_DIR (default ../shared/anchors, beside the repository); without
# it the bench says so in one line and times Pellucid alone.
"$py" -c 'import torchvision' 2>/dev/null && eager="--captum-eager resnet50" || eager=""
PELLUCID_PYTHON="$(command -v "$py")" ./build-gpu/engine/pellucid-bench --versus-captum --device cuda --model "$out/resnet50.pt" \
  --input-shape 1,3,224,224 --rounds 5 --fast-kernels --ig-steps 50 $eager --json "$out/versus_captum_fp32.json" \
  | tee "$out/versus_captum_fp32.txt" || true
# The same in bfloat16 for the forward-only methods (both sides run a converted copy; the gradient methods stay
# float32 on both sides, so only those three rows differ from the run above).
PELLUCID_PYTHON="$(command -v "$py")" ./build-gpu/engine/pellucid-bench --versus-captum --device cuda --precision bf16 \
  --model "$out/resnet50.pt" --input-shape 1,3,224,224 --rounds 5 --methods occlusion,lime,kernelshap \
  --json "$out/versus_captum_bf16.json" | tee "$out/versus_captum_bf16.txt" || true
