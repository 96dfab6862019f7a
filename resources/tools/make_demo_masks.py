#!/usr/bin/env python3
"""Region masks for the ten demo samples (resources/samples/*.png) -> resources/feedback/masks/*.png.

Stand-ins for masks a person would draw on Fashion-MNIST: where the evidence is, the item itself. Each mask
is the item's silhouette (raw pixel > 30 of 255), closed with a 3x3 cross so the seams inside a garment
count as inside, as a brush would paint them. White (255) = inside. The README's feedback example annotates
the samples with these and ranks the attribution methods by how well they agree.

  /usr/bin/python3 resources/tools/make_demo_masks.py
"""
import glob
import os

import numpy as np
from PIL import Image

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
out = os.path.join(root, "feedback", "masks")
os.makedirs(out, exist_ok=True)


def close(m):
    def shift(a, dy, dx):
        return np.roll(np.roll(a, dy, 0), dx, 1)
    cross = [(0, 0), (1, 0), (-1, 0), (0, 1), (0, -1)]
    dilated = np.zeros_like(m)
    for dy, dx in cross:
        dilated |= shift(m, dy, dx)
    eroded = np.ones_like(m)
    for dy, dx in cross:
        eroded &= shift(dilated, dy, dx)
    return eroded


for f in sorted(glob.glob(os.path.join(root, "samples", "*.png"))):
    a = np.array(Image.open(f).convert("L"))
    m = close(a > 30)
    Image.fromarray((m * 255).astype(np.uint8)).save(os.path.join(out, os.path.basename(f)))
    print(os.path.basename(f), int(m.sum()), "px")
