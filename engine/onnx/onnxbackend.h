#pragma once
// The ONNX backend: ONNX files open through OpenCV's DNN module (cv::dnn::readNetFromONNX) behind the engine's
// Model interface (engine/runtime/backend.h) — predictions, any node's output, and the forward-only methods.
// Optional: built when OpenCV's dnn module is found (PELLUCID_HAVE_ONNX); the engine's LibTorch core never
// includes OpenCV.
namespace pellucid {

/// Registers the backend for ".onnx" files (Model::load) and silences OpenCV's own log lines. Call once at
/// start-up (the app, the CLI, the bench and the tests that open ONNX files do).
void registerOnnxBackend();

}   // namespace pellucid
