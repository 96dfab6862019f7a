#!/usr/bin/python3
"""Train Pellucid's diffusion demo and export it:

    /usr/bin/python3 resources/tools/train_diffusion.py [--iters 3000] [--batch 64] [--threads 2]

A small UNet with written-out cross-attention (resources/tools/diffusion_ref.py) on two Fashion-MNIST items side
by side (28 x 56, pixels in [-1, 1]), conditioned on two words: the left item's class and the right item's
(ids 1-10; 0 is the null word). Each word is dropped (replaced by the null id) with probability 0.1 and the whole
prompt with probability 0.1, for classifier-free guidance and single-word prompts. Epsilon prediction, 1000
linear-schedule steps. Fixed seeds; an exponential moving average of the weights is exported, scripted, as
resources/models/fashion_pairs_diffusion.pt with its metadata (role "denoiser", the vocabulary, the schedule, the
regions each word belongs to, the companion classifier).
"""
import argparse
import copy
import gzip
import json
import math
import os
import struct
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import diffusion_ref as ref   # noqa: E402

DATA = "/usr/share/datasets/fashion-mnist"
WORDS = ["<null>", "tshirt", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag", "boot"]
CFG = {"train_steps": 1000, "beta_schedule": "linear", "beta_start": 1e-4, "beta_end": 0.02, "prediction": "epsilon",
       "sample_shape": [1, 1, 28, 56], "null_id": 0, "image_range": [-1, 1]}


def read_idx(path):
    with gzip.open(path, "rb") as f:
        magic = struct.unpack(">I", f.read(4))[0]
        dims = struct.unpack(">" + "I" * (magic & 0xFF), f.read(4 * (magic & 0xFF)))
        return np.frombuffer(f.read(), dtype=np.uint8).reshape(dims)


def metadata():
    return {
        "format": 1,
        "name": "Fashion-MNIST pairs diffusion (Pellucid demo)",
        "role": "denoiser",
        "vocab": WORDS,
        "diffusion": CFG,
        "companion_classifier": "fashion_mnist_cnn.pt",
        # Where each word of a two-word prompt belongs: the ground truth of the per-word maps' mIoU and the
        # regions the trajectory lens classifies.
        "regions": [{"name": "left", "token": 0, "box": [0, 0, 28, 28]}, {"name": "right", "token": 1, "box": [0, 28, 28, 56]}],
        "prompt_length": 2,
        # Each word's class of the companion classifier (word i is Fashion-MNIST class i - 1; the null word none).
        "word_classes": [-1] + list(range(10)),
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--iters", type=int, default=3000)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "..", "models", "fashion_pairs_diffusion.pt"))
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    images = torch.from_numpy(read_idx(f"{DATA}/train-images-idx3-ubyte.gz").astype(np.float32) / 127.5 - 1.0)
    labels = torch.from_numpy(read_idx(f"{DATA}/train-labels-idx1-ubyte.gz").astype(np.int64))
    model = ref.UNet(vocab=len(WORDS), K=2)
    ema = copy.deepcopy(model).eval()
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.0)
    acp = ref.alphas_cumprod(CFG).float()
    T = CFG["train_steps"]
    print("parameters", sum(p.numel() for p in model.parameters()))
    start = time.time()
    for it in range(args.iters):
        a = torch.from_numpy(rng.integers(0, len(images), args.batch))
        b = torch.from_numpy(rng.integers(0, len(images), args.batch))
        x0 = torch.cat([images[a], images[b]], dim=2).unsqueeze(1)   # [B, 1, 28, 56]
        cond = torch.stack([labels[a] + 1, labels[b] + 1], dim=1)
        drop = torch.from_numpy(rng.random((args.batch, 2)) < 0.1)
        whole = torch.from_numpy(rng.random(args.batch) < 0.1).unsqueeze(1)
        cond = cond.masked_fill(drop | whole, 0)
        t = torch.from_numpy(rng.integers(0, T, args.batch))
        noise = torch.randn_like(x0)
        ab = acp[t].view(-1, 1, 1, 1)
        xt = ab.sqrt() * x0 + (1 - ab).sqrt() * noise
        loss = F.mse_loss(model(xt, t, cond), noise)
        # warm-up, then cosine decay
        lr = args.lr * min(1.0, (it + 1) / 200) * (0.5 * (1 + math.cos(math.pi * it / args.iters)) * 0.9 + 0.1)
        for g in opt.param_groups:
            g["lr"] = lr
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        decay = min(0.999, (1 + it) / (10 + it))
        with torch.no_grad():
            for pe, pm in zip(ema.parameters(), model.parameters()):
                pe.mul_(decay).add_(pm, alpha=1 - decay)
            for be, bm in zip(ema.buffers(), model.buffers()):
                be.copy_(bm)
        if it % 100 == 0 or it == args.iters - 1:
            print(f"iter {it} loss {loss.item():.4f} lr {lr:.2e} {time.time() - start:.0f}s", flush=True)
    ema.eval()
    scripted = torch.jit.script(ema)
    out = os.path.abspath(args.out)
    torch.jit.save(scripted, out, _extra_files={"pellucid.json": json.dumps(metadata(), indent=1)})
    print("saved", out, os.path.getsize(out), "bytes")


if __name__ == "__main__":
    main()
