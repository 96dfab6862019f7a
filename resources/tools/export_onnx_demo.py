#!/usr/bin/env python3
"""The Fashion-MNIST CNN demo as ONNX (resources/models/fashion_mnist_cnn.onnx): the committed TorchScript file
exported with Debian's torch.onnx (opset 13), its Pellucid metadata (labels, preprocessing) carried as the
ONNX metadata property "pellucid.json" — what Pellucid reads from an ONNX file, like the archive's extra file.

    /usr/bin/python3 resources/tools/export_onnx_demo.py

Needs python3-torch and python3-onnx. The same weights as the .pt: predictions agree within 1e-4 (the CLI
test compares the two).
"""
import json
import os

import onnx
import torch

here = os.path.dirname(os.path.abspath(__file__))
models = os.path.join(here, "..", "models")
src = os.path.join(models, "fashion_mnist_cnn.pt")
out = os.path.join(models, "fashion_mnist_cnn.onnx")
extra = {"pellucid.json": ""}
m = torch.jit.load(src, _extra_files=extra).eval()
x = torch.zeros(1, 1, 28, 28)
torch.onnx.export(m, x, out, opset_version=13, input_names=["image"], output_names=["logits"])
model = onnx.load(out)
meta = extra["pellucid.json"]
meta = meta.decode() if isinstance(meta, bytes) else meta
# Layers are ONNX nodes here: the suggested module outputs by the nodes that compute them.
info = json.loads(meta)
nodes = {"features.2": "/features/2/Relu", "features.5": "/features/5/Relu", "features.9": "/features/9/Relu",
         "classifier.3": "/classifier/3/Relu"}
info["suggested_layers"] = [nodes[p] for p in info.get("suggested_layers", [])]
meta = json.dumps(info)
entry = model.metadata_props.add()
entry.key, entry.value = "pellucid.json", meta
model.producer_name = "pytorch"
onnx.save(model, out)
print(out, os.path.getsize(out), "bytes")
