#!/usr/bin/python3
"""Train Pellucid's bundled Vision Transformer on Fashion-MNIST and export it to TorchScript.

    /usr/bin/python3 resources/tools/train_vit.py [--epochs 8] [--out resources/models]

A small ViT: 7×7 patches of the 28×28 image (16 patches + a CLS token = 17 tokens), width 64, 4 blocks of
pre-norm multi-head self-attention (4 heads) and MLP. The attention is written out (softmax of QKᵀ/√d feeding
a matrix product), as Debian's PyTorch 1.13 has no scaled_dot_product_attention; Pellucid taps that softmax.
Seeds are fixed; the metadata (input spec, labels, patch grid, measured accuracy) travels inside the archive.
"""
import argparse
import json
import os
import random

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from train_fashion_mnist import DATA, LABELS, read_idx


class Attention(nn.Module):
    def __init__(self, dim: int, heads: int):
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t, c = x.shape
        q, k, v = self.qkv(x).view(b, t, 3, self.heads, c // self.heads).permute(2, 0, 3, 1, 4).unbind(0)
        attn = torch.softmax(q @ k.transpose(-2, -1) * (c // self.heads) ** -0.5, dim=-1)
        return self.proj((attn @ v).transpose(1, 2).reshape(b, t, c))


class Block(nn.Module):
    def __init__(self, dim: int, heads: int):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = Attention(dim, heads)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(nn.Linear(dim, 2 * dim), nn.GELU(), nn.Linear(2 * dim, dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class ViT(nn.Module):
    def __init__(self, dim=64, depth=4, heads=4, patch=7):
        super().__init__()
        self.patch = patch
        self.embed = nn.Conv2d(1, dim, patch, stride=patch)
        self.cls = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos = nn.Parameter(torch.randn(1, (28 // patch) ** 2 + 1, dim) * 0.02)
        self.blocks = nn.Sequential(*[Block(dim, heads) for _ in range(depth)])
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        p = self.embed(x).flatten(2).transpose(1, 2)
        x = torch.cat([self.cls.expand(p.shape[0], -1, -1), p], 1) + self.pos
        x = self.norm(self.blocks(x))
        return self.head(x[:, 0])


def evaluate(model, X, Y):
    model.eval()
    with torch.no_grad():
        return sum((model(X[i:i + 1000]).argmax(1) == Y[i:i + 1000]).sum().item() for i in range(0, len(X), 1000)) / len(X)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--epochs", type=int, default=8)
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "..", "models"))
    args = ap.parse_args()
    torch.manual_seed(0); random.seed(0); np.random.seed(0)
    torch.set_num_threads(max(1, os.cpu_count() or 1))
    xtr = read_idx(f"{DATA}/train-images-idx3-ubyte.gz").astype(np.float32) / 255.0
    ytr = read_idx(f"{DATA}/train-labels-idx1-ubyte.gz").astype(np.int64)
    xte = read_idx(f"{DATA}/t10k-images-idx3-ubyte.gz").astype(np.float32) / 255.0
    yte = read_idx(f"{DATA}/t10k-labels-idx1-ubyte.gz").astype(np.int64)
    mean, std = float(xtr.mean()), float(xtr.std())
    norm = lambda a: torch.from_numpy((a - mean) / std).unsqueeze(1)
    Xtr, Ytr, Xte, Yte = norm(xtr), torch.from_numpy(ytr), norm(xte), torch.from_numpy(yte)
    model = ViT()
    opt = torch.optim.AdamW(model.parameters(), lr=2e-3, weight_decay=0.05)
    steps = (len(Xtr) + 127) // 128
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=3e-3, total_steps=args.epochs * steps)
    g = torch.Generator().manual_seed(0)
    for epoch in range(args.epochs):
        model.train()
        perm = torch.randperm(len(Xtr), generator=g)
        total = 0.0
        for i in range(0, len(Xtr), 128):
            idx = perm[i:i + 128]
            xb = Xtr[idx]
            flip = torch.rand(len(idx), generator=g) < 0.5
            xb = torch.where(flip[:, None, None, None], xb.flip(3), xb)
            loss = F.cross_entropy(model(xb), Ytr[idx], label_smoothing=0.05)
            opt.zero_grad(); loss.backward(); opt.step(); sched.step()
            total += loss.item() * len(idx)
        print(f"epoch {epoch + 1}: train loss {total / len(Xtr):.4f}  test accuracy {evaluate(model, Xte, Yte):.4f}", flush=True)
    model.eval()
    acc = evaluate(model, Xte, Yte)
    meta = {
        "format": 1,
        "name": "Fashion-MNIST ViT (Pellucid demo)",
        "task": "classification",
        "input": {"shape": [1, 1, 28, 28], "layout": "NCHW", "channel_order": "gray",
                  "range": [0.0, 1.0], "mean": [round(mean, 6)], "std": [round(std, 6)]},
        "labels": LABELS,
        "labels_dataset": "Fashion-MNIST",
        "suggested_layers": ["blocks.0", "blocks.3", "norm"],
        "attention": {"patch_grid": [4, 4], "cls_token": 0, "patch_size": 7},
        "training": {"dataset": "Fashion-MNIST (Debian dataset-fashion-mnist)", "epochs": args.epochs,
                     "test_accuracy": round(acc, 4), "script": "resources/tools/train_vit.py"},
    }
    path = os.path.join(args.out, "fashion_mnist_vit.pt")
    torch.jit.save(torch.jit.script(model), path, _extra_files={"pellucid.json": json.dumps(meta, indent=1)})
    loaded = torch.jit.load(path)
    with torch.no_grad():
        assert torch.allclose(loaded(Xte[:64]), model(Xte[:64]), atol=1e-5)
    print(f"saved {path}; test accuracy {acc:.4f}")


if __name__ == "__main__":
    main()
