#!/usr/bin/python3
"""Train Pellucid's bundled Fashion-MNIST demo classifier and export it to TorchScript.

Run with Debian's interpreter (python3-torch, python3-torchvision, dataset-fashion-mnist):
    /usr/bin/python3 resources/tools/train_fashion_mnist.py [--epochs 6] [--out resources/models]

Seeds are fixed and deterministic algorithms are requested, so a rerun on the same machine reproduces the
committed weights and the reported accuracy. The model carries its metadata (pellucid.json) inside the
archive as an extra file: input spec, normalisation, labels, suggested layers and the measured accuracy.
"""
import argparse
import gzip
import json
import os
import random
import struct

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

LABELS = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
          "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
DATA = "/usr/share/datasets/fashion-mnist"


def read_idx(path):
    with gzip.open(path, "rb") as f:
        magic = struct.unpack(">I", f.read(4))[0]
        ndim = magic & 0xFF
        dims = struct.unpack(">" + "I" * ndim, f.read(4 * ndim))
        return np.frombuffer(f.read(), dtype=np.uint8).reshape(dims)


class FashionNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(),            # 0 1 2
            nn.Conv2d(16, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(),           # 3 4 5
            nn.MaxPool2d(2),                                                         # 6  -> 14x14
            nn.Conv2d(32, 64, 3, padding=1), nn.BatchNorm2d(64), nn.ReLU(),           # 7 8 9
            nn.MaxPool2d(2),                                                         # 10 -> 7x7
        )
        self.classifier = nn.Sequential(
            nn.Flatten(), nn.Dropout(0.3), nn.Linear(64 * 7 * 7, 128), nn.ReLU(),
            nn.Dropout(0.3), nn.Linear(128, 10))

    def forward(self, x):
        return self.classifier(self.features(x))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--epochs", type=int, default=6)
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "..", "models"))
    ap.add_argument("--samples", default=os.path.join(os.path.dirname(__file__), "..", "samples"))
    args = ap.parse_args()

    torch.manual_seed(0); random.seed(0); np.random.seed(0)
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(max(1, os.cpu_count() or 1))

    xtr = read_idx(f"{DATA}/train-images-idx3-ubyte.gz").astype(np.float32) / 255.0
    ytr = read_idx(f"{DATA}/train-labels-idx1-ubyte.gz").astype(np.int64)
    xte = read_idx(f"{DATA}/t10k-images-idx3-ubyte.gz").astype(np.float32) / 255.0
    yte = read_idx(f"{DATA}/t10k-labels-idx1-ubyte.gz").astype(np.int64)
    mean, std = float(xtr.mean()), float(xtr.std())
    norm = lambda a: torch.from_numpy((a - mean) / std).unsqueeze(1)
    Xtr, Ytr, Xte, Yte = norm(xtr), torch.from_numpy(ytr), norm(xte), torch.from_numpy(yte)

    model = FashionNet()
    opt = torch.optim.Adam(model.parameters(), lr=2e-3, weight_decay=1e-4)
    steps_per_epoch = (len(Xtr) + 127) // 128
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=3e-3, total_steps=args.epochs * steps_per_epoch)
    g = torch.Generator().manual_seed(0)
    for epoch in range(args.epochs):
        model.train()
        perm = torch.randperm(len(Xtr), generator=g)
        total = 0.0
        for i in range(0, len(Xtr), 128):
            idx = perm[i:i + 128]
            xb = Xtr[idx]
            # light augmentation: random horizontal flip (clothes are left/right symmetric)
            flip = torch.rand(len(idx), generator=g) < 0.5
            xb = torch.where(flip[:, None, None, None], xb.flip(3), xb)
            loss = F.cross_entropy(model(xb), Ytr[idx])
            opt.zero_grad(); loss.backward(); opt.step(); sched.step()
            total += loss.item() * len(idx)
        acc = evaluate(model, Xte, Yte)
        print(f"epoch {epoch + 1}: train loss {total / len(Xtr):.4f}  test accuracy {acc:.4f}", flush=True)

    model.eval()
    acc = evaluate(model, Xte, Yte)
    meta = {
        "format": 1,
        "name": "Fashion-MNIST CNN (Pellucid demo)",
        "task": "classification",
        "input": {"shape": [1, 1, 28, 28], "layout": "NCHW", "channel_order": "gray",
                  "range": [0.0, 1.0], "mean": [round(mean, 6)], "std": [round(std, 6)]},
        "labels": LABELS,
        "suggested_layers": ["features.2", "features.5", "features.9", "classifier.3"],
        "training": {"dataset": "Fashion-MNIST (Debian dataset-fashion-mnist)", "epochs": args.epochs,
                     "test_accuracy": round(acc, 4), "script": "resources/tools/train_fashion_mnist.py"},
    }
    os.makedirs(args.out, exist_ok=True)
    example = Xte[:1]
    scripted = torch.jit.script(model)
    path = os.path.join(args.out, "fashion_mnist_cnn.pt")
    torch.jit.save(scripted, path, _extra_files={"pellucid.json": json.dumps(meta, indent=1)})
    print(f"saved {path}; test accuracy {acc:.4f}")

    # Check the exported file agrees with the eager model.
    loaded = torch.jit.load(path)
    with torch.no_grad():
        assert torch.allclose(loaded(Xte[:64]), model(Xte[:64]), atol=1e-5)

    # One sample PNG per class (the first test image of each class).
    from PIL import Image
    os.makedirs(args.samples, exist_ok=True)
    for c, name in enumerate(LABELS):
        i = int(np.nonzero(yte == c)[0][0])
        fname = name.lower().replace("/", "-").replace(" ", "-")
        Image.fromarray((xte[i] * 255).round().astype(np.uint8), mode="L").save(
            os.path.join(args.samples, f"{c}-{fname}.png"))


def evaluate(model, X, Y):
    model.eval()
    correct = 0
    with torch.no_grad():
        for i in range(0, len(X), 1000):
            correct += (model(X[i:i + 1000]).argmax(1) == Y[i:i + 1000]).sum().item()
    return correct / len(X)


if __name__ == "__main__":
    main()
