#!/usr/bin/python3
"""The README's dissection example: removing the DCGAN demo's five units of layer net.3 with the largest
effect on 'Trouser' (from `pellucid-cli dissect`, 300 codes, seed 0) turns sample 28 of seed 5 into a dress.
Writes resources/docs/dcgan_trouser_units.png (original | edited, 6× nearest) and prints both verdicts.

    /usr/bin/python3 resources/tools/make_dissection_example.py [--cli build/app/pellucid-cli]
"""
import argparse
import json
import os
import struct
import subprocess
import tempfile
import zlib

import numpy as np
import torch

ROOT = os.path.join(os.path.dirname(__file__), "..", "..")
GEN = os.path.join(ROOT, "resources/models/dcgan_generator.pt")
CLS = os.path.join(ROOT, "resources/models/fashion_mnist_cnn.pt")


def png(path, g):
    g = (np.clip(g, 0, 1) * 255 + 0.5).astype(np.uint8)
    raw = b"".join(b"\x00" + g[y].tobytes() for y in range(g.shape[0]))
    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xffffffff)
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", g.shape[1], g.shape[0], 8, 0, 0, 0, 0))
                + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cli", default=os.path.join(ROOT, "build/app/pellucid-cli"))
    a = ap.parse_args()
    t = tempfile.mkdtemp()
    run = lambda *args: subprocess.run([a.cli, *args], check=True, capture_output=True, text=True).stdout
    d = json.loads(run("dissect", "--model", GEN, "--layer", "net.3", "--count", "300", "--seed", "0", "--out", f"{t}/e.npy", "--json"))
    units = d["per_class"][1]["top_units"][:5]
    run("sample", "--model", GEN, "--count", "64", "--seed", "5", "--codes-out", f"{t}/z.npy", "--out", f"{t}/s.npy")
    np.save(f"{t}/z28.npy", np.load(f"{t}/z.npy")[28:29])
    run("ablate", "--model", GEN, "--layer", "net.3", "--units", ",".join(map(str, units)), "--z", f"{t}/z28.npy", "--out", f"{t}/a.npy")
    orig, edit = np.load(f"{t}/s.npy")[28:29], np.load(f"{t}/a.npy")
    cls = torch.jit.load(CLS).eval()
    labels = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
    for name, x in (("original", orig), ("edited", edit)):
        p = torch.softmax(cls((torch.from_numpy(x) - 0.28604) / 0.353024), 1)[0]
        print(f"{name}: {labels[int(p.argmax())]} {float(p.max()):.2f} (p(Trouser) {float(p[1]):.3f})")
    print("units", units)
    img = np.concatenate([orig[0, 0], np.ones((28, 2)), edit[0, 0]], 1)
    out = os.path.join(ROOT, "resources/docs/dcgan_trouser_units.png")
    png(out, np.kron(img, np.ones((6, 6))))
    print("wrote", out)


if __name__ == "__main__":
    main()
