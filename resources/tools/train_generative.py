#!/usr/bin/python3
"""Train Pellucid's generative demos on Fashion-MNIST (Debian dataset-fashion-mnist) and export them:

    /usr/bin/python3 resources/tools/train_generative.py [--vae-epochs 8] [--gan-epochs 6]

* a convolutional VAE (latent 16): `vae_decoder.pt` (z [N,16] -> image [N,1,28,28] in [0,1]) and
  `vae_encoder.pt` (image -> (mu, logvar)), each with its role in the metadata;
* a DCGAN-style generator (latent 32): `dcgan_generator.pt` (z -> image in [0,1]).
Fixed seeds; files are small.
"""
import argparse
import gzip
import json
import os
import struct

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

DATA = "/usr/share/datasets/fashion-mnist"


def read_idx(path):
    with gzip.open(path, "rb") as f:
        magic = struct.unpack(">I", f.read(4))[0]
        dims = struct.unpack(">" + "I" * (magic & 0xFF), f.read(4 * (magic & 0xFF)))
        return np.frombuffer(f.read(), dtype=np.uint8).reshape(dims)


class Encoder(nn.Module):
    def __init__(self, latent=16):
        super().__init__()
        self.conv = nn.Sequential(nn.Conv2d(1, 32, 4, 2, 1), nn.ReLU(), nn.Conv2d(32, 64, 4, 2, 1), nn.ReLU(), nn.Flatten())
        self.mu = nn.Linear(64 * 7 * 7, latent)
        self.logvar = nn.Linear(64 * 7 * 7, latent)

    def forward(self, x):
        h = self.conv(x)
        return self.mu(h), self.logvar(h)


class Decoder(nn.Module):
    def __init__(self, latent=16):
        super().__init__()
        self.fc = nn.Linear(latent, 64 * 7 * 7)
        self.deconv = nn.Sequential(nn.ReLU(), nn.Unflatten(1, (64, 7, 7)), nn.ConvTranspose2d(64, 32, 4, 2, 1), nn.ReLU(),
                                    nn.ConvTranspose2d(32, 1, 4, 2, 1), nn.Sigmoid())

    def forward(self, z):
        return self.deconv(self.fc(z))


class Generator(nn.Module):
    def __init__(self, latent=32):
        super().__init__()
        self.fc = nn.Sequential(nn.Linear(latent, 128 * 7 * 7), nn.BatchNorm1d(128 * 7 * 7), nn.ReLU())
        self.net = nn.Sequential(nn.Unflatten(1, (128, 7, 7)), nn.ConvTranspose2d(128, 64, 4, 2, 1), nn.BatchNorm2d(64), nn.ReLU(),
                                 nn.ConvTranspose2d(64, 1, 4, 2, 1), nn.Sigmoid())

    def forward(self, z):
        return self.net(self.fc(z))


class Discriminator(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Conv2d(1, 64, 4, 2, 1), nn.LeakyReLU(0.2), nn.Conv2d(64, 128, 4, 2, 1), nn.BatchNorm2d(128),
                                 nn.LeakyReLU(0.2), nn.Flatten(), nn.Linear(128 * 7 * 7, 1))

    def forward(self, x):
        return self.net(x)


def save(module, path, meta):
    torch.jit.save(torch.jit.script(module), path, _extra_files={"pellucid.json": json.dumps(meta, indent=1)})
    print("saved", path)


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser()
    ap.add_argument("--vae-epochs", type=int, default=8)
    ap.add_argument("--gan-epochs", type=int, default=6)
    ap.add_argument("--out", default=os.path.join(here, "..", "models"))
    args = ap.parse_args()
    torch.manual_seed(0)
    np.random.seed(0)
    torch.set_num_threads(max(1, os.cpu_count() or 1))
    X = torch.from_numpy(read_idx(f"{DATA}/train-images-idx3-ubyte.gz").astype(np.float32) / 255.0).unsqueeze(1)
    Y = torch.from_numpy(read_idx(f"{DATA}/train-labels-idx1-ubyte.gz").astype(np.int64))
    Xt = torch.from_numpy(read_idx(f"{DATA}/t10k-images-idx3-ubyte.gz").astype(np.float32) / 255.0).unsqueeze(1)
    g = torch.Generator().manual_seed(0)

    enc, dec = Encoder(), Decoder()
    opt = torch.optim.Adam(list(enc.parameters()) + list(dec.parameters()), lr=1e-3)
    for epoch in range(args.vae_epochs):
        perm = torch.randperm(len(X), generator=g)
        total = 0.0
        for i in range(0, len(X), 128):
            x = X[perm[i:i + 128]]
            mu, logvar = enc(x)
            z = mu + torch.randn(mu.shape, generator=g) * (0.5 * logvar).exp()
            rec = dec(z)
            bce = F.binary_cross_entropy(rec, x, reduction="sum")
            kl = -0.5 * (1 + logvar - mu.pow(2) - logvar.exp()).sum()
            loss = (bce + kl) / len(x)
            opt.zero_grad(); loss.backward(); opt.step()
            total += loss.item() * len(x)
        print(f"VAE epoch {epoch + 1}: loss {total / len(X):.2f}", flush=True)
    enc.eval(); dec.eval()
    with torch.no_grad():
        mu, logvar = enc(Xt[:2000])
        rec = dec(mu)
        mse = float(((rec - Xt[:2000]) ** 2).mean())
        kl_dim = (-0.5 * (1 + logvar - mu.pow(2) - logvar.exp())).mean(0)
    psnr = 10 * np.log10(1.0 / mse)
    active = int((kl_dim > 0.01).sum())
    print(f"VAE test reconstruction PSNR {psnr:.2f} dB, active units {active}/16")
    common = {"format": 1, "task": "generative", "labels_dataset": "Fashion-MNIST",
              "training": {"script": "resources/tools/train_generative.py"}}
    save(dec, os.path.join(args.out, "vae_decoder.pt"),
         dict(common, name="VAE decoder (Fashion-MNIST)", role="decoder", latent={"dim": 16, "shape": [1, 16], "prior": "standard normal"},
              input={"shape": [1, 16]}, output={"shape": [1, 1, 28, 28], "range": [0, 1]},
              pair="vae_encoder.pt", training=dict(common["training"], vae_epochs=args.vae_epochs, test_psnr_db=round(psnr, 2), active_units=active)))
    save(enc, os.path.join(args.out, "vae_encoder.pt"),
         dict(common, name="VAE encoder (Fashion-MNIST)", role="encoder", outputs=["mu", "logvar"], latent={"dim": 16},
              input={"shape": [1, 1, 28, 28], "layout": "NCHW", "channel_order": "gray", "range": [0, 1]}, pair="vae_decoder.pt"))

    G, D = Generator(), Discriminator()
    og = torch.optim.Adam(G.parameters(), lr=2e-4, betas=(0.5, 0.999))
    od = torch.optim.Adam(D.parameters(), lr=2e-4, betas=(0.5, 0.999))
    for epoch in range(args.gan_epochs):
        perm = torch.randperm(len(X), generator=g)
        for i in range(0, len(X), 128):
            real = X[perm[i:i + 128]] * 2 - 1   # D sees [-1, 1]
            z = torch.randn(len(real), 32, generator=g)
            fake = G(z) * 2 - 1
            ld = F.binary_cross_entropy_with_logits(D(real), torch.ones(len(real), 1)) + \
                F.binary_cross_entropy_with_logits(D(fake.detach()), torch.zeros(len(real), 1))
            od.zero_grad(); ld.backward(); od.step()
            lg = F.binary_cross_entropy_with_logits(D(fake), torch.ones(len(real), 1))
            og.zero_grad(); lg.backward(); og.step()
        print(f"GAN epoch {epoch + 1}: D {ld.item():.3f} G {lg.item():.3f}", flush=True)
    G.eval()
    save(G, os.path.join(args.out, "dcgan_generator.pt"),
         dict(common, name="DCGAN generator (Fashion-MNIST)", role="generator", latent={"dim": 32, "shape": [1, 32], "prior": "standard normal"},
              input={"shape": [1, 32]}, output={"shape": [1, 1, 28, 28], "range": [0, 1]},
              training=dict(common["training"], gan_epochs=args.gan_epochs)))


if __name__ == "__main__":
    main()
