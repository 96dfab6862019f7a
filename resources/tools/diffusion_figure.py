#!/usr/bin/python3
"""README figure of the diffusion demo, drawn from pellucid-cli's own outputs:

    /usr/bin/python3 resources/tools/diffusion_figure.py [build/app/pellucid-cli]

Rows: prompts; columns: seeds 0-3 (DDIM-50, guidance 3); then for each prompt of the last column the two words'
DAAM maps (max-normalised, viridis-free grey). Writes resources/docs/diffusion_pairs.png.
"""
import os
import subprocess
import sys
import tempfile

import numpy as np
from PIL import Image

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
CLI = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "build", "app", "pellucid-cli")
MODEL = os.path.join(ROOT, "resources", "models", "fashion_pairs_diffusion.pt")
PROMPTS = ["trouser dress", "boot tshirt", "bag sneaker", "pullover sandal", "coat trouser"]
SEEDS = [0, 1, 2, 3]


def run(*args):
    subprocess.run([CLI, *args], check=True, stdout=subprocess.DEVNULL)


def main():
    tiles = []
    with tempfile.TemporaryDirectory() as tmp:
        for p in PROMPTS:
            row = []
            for s in SEEDS:
                out = os.path.join(tmp, "x.npy")
                run("diffuse", "--model", MODEL, "--prompt", p, "--steps", "50", "--seed", str(s), "--guidance", "3", "--out", out)
                row.append((np.load(out)[0, 0] + 1) / 2)
            maps = os.path.join(tmp, "m.npy")
            run("cross-attention", "--model", MODEL, "--prompt", p, "--steps", "50", "--seed", str(SEEDS[-1]), "--guidance", "3", "--out", maps)
            m = np.load(maps)
            for k in range(2):   # min-max scaled for display
                row.append((m[k] - m[k].min()) / max(1e-12, m[k].max() - m[k].min()))
            tiles.append(row)
    h, w, gap = 28, 56, 4
    canvas = np.ones((len(tiles) * (h + gap) + gap, len(tiles[0]) * (w + gap) + 3 * gap), np.float32)
    for r, row in enumerate(tiles):
        for c, t in enumerate(row):
            x = gap + c * (w + gap) + (2 * gap if c >= len(SEEDS) else 0)
            canvas[gap + r * (h + gap): gap + r * (h + gap) + h, x: x + w] = np.clip(t, 0, 1)
    img = Image.fromarray((canvas * 255).astype(np.uint8)).resize((canvas.shape[1] * 3, canvas.shape[0] * 3), Image.NEAREST)
    out = os.path.join(ROOT, "resources", "docs", "diffusion_pairs.png")
    img.save(out, optimize=True)
    print(out)


if __name__ == "__main__":
    main()
