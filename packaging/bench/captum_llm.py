#!/usr/bin/python3
"""Per-step attribution of generated text: Captum's LLMGradientAttribution (../shared/anchors/captum, 0.8.0)
beside pellucid-bench, on the demo GPT, with the same model, method, prompt, continuation and threads.

Captum explains each generated token in its own forward + backward (LayerGradientXActivation on the token
embedding, i.e. input × gradient summed over the embedding); Pellucid batches every step into one pass. The
script checks that both give the same numbers on the prompt's columns, then prints both timings.

Usage (from the project root, after building):
  /usr/bin/python3 packaging/bench/captum_llm.py [--threads 2] [--new 32] [--prompt "…"] [--reps 5]
Needs python3-torch, python3-sentencepiece, python3-matplotlib (Captum imports it) and Captum's source at
../shared/anchors/captum.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import types
import warnings

import numpy as np
import sentencepiece as spm
import torch
import torch.nn as nn

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "..", "shared", "anchors"))
sys.path.insert(0, os.path.join(ROOT, "resources", "tools"))
from captum.attr import LayerGradientXActivation, LLMGradientAttribution, TextTokenInput  # noqa: E402
from train_gpt import GPT  # noqa: E402


class Tokenizer:
    """The small part of Hugging Face's tokenizer interface Captum uses, over SentencePiece (BOS first)."""

    def __init__(self, path):
        self.sp = spm.SentencePieceProcessor(model_file=path)

    def encode(self, text, return_tensors=None, add_special_tokens=True):
        ids = [1] + self.sp.encode(text)
        return torch.tensor([ids]) if return_tensors == "pt" else ids

    def convert_ids_to_tokens(self, ids):
        return [self.sp.id_to_piece(int(i)) for i in (ids if isinstance(ids, list) else [ids])]

    def convert_tokens_to_ids(self, tokens):
        return [self.sp.piece_to_id(t) for t in tokens]

    def decode(self, ids):
        ids = ids.tolist() if torch.is_tensor(ids) else ids
        return self.sp.decode([int(i) for i in (ids if isinstance(ids, list) else [ids])])

    def __call__(self, text, add_special_tokens=True, **kwargs):
        # Captum only uses this for display labels; SentencePiece gives no offsets here.
        ids = self.encode(text) if add_special_tokens else self.sp.encode(text)
        return {"input_ids": ids, "offset_mapping": [(0, 0)] * len(ids)}


class HfStyle(nn.Module):
    """Returns an object with .logits, as Hugging Face models do."""

    def __init__(self, m):
        super().__init__()
        self.m = m

    def forward(self, ids):
        return types.SimpleNamespace(logits=self.m(ids))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--new", type=int, default=32)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--prompt", default="The computer is a machine that")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    warnings.filterwarnings("ignore")
    model_path = os.path.join(ROOT, "resources", "models", "fortune_gpt.pt")
    scripted = torch.jit.load(model_path)
    tok = Tokenizer(os.path.join(ROOT, "resources", "models", "gpt_fortunes_sp.model"))
    m = GPT(tok.sp.get_piece_size())
    m.load_state_dict({k: v for k, v in scripted.state_dict().items() if not k.endswith(".attn.mask")})
    m.eval()
    prompt = tok.encode(args.prompt)
    ids = list(prompt)
    with torch.no_grad():
        for _ in range(args.new):
            ids.append(int(m(torch.tensor([ids]))[0, -1].argmax()))
    target = torch.tensor(ids[len(prompt):])
    hf = HfStyle(m)
    llm = LLMGradientAttribution(LayerGradientXActivation(hf, m.transformer.wte), tok)
    inp = TextTokenInput(args.prompt, tok)
    times = []
    for r in range(args.reps + 1):
        t0 = time.perf_counter()
        res = llm.attribute(inp, target=target)
        if r:
            times.append((time.perf_counter() - t0) * 1000)
    captum = res.token_attr.detach().numpy()   # [G, P]
    with tempfile.TemporaryDirectory() as d:
        np.save(os.path.join(d, "p.npy"), np.array([prompt], dtype=np.int64))
        np.save(os.path.join(d, "c.npy"), np.array([ids[len(prompt):]], dtype=np.int64))
        cli = os.path.join(ROOT, "build", "app", "pellucid-cli")
        subprocess.run([cli, "gen-attribute", "--model", model_path, "--ids", os.path.join(d, "p.npy"), "--continuation-ids", os.path.join(d, "c.npy"),
                        "--method", "inputxgrad", "--threads", str(args.threads), "--out", os.path.join(d, "a.npy")], check=True, stdout=subprocess.DEVNULL)
        mine = np.load(os.path.join(d, "a.npy"))[:, :len(prompt)]
        bench = subprocess.run([os.path.join(ROOT, "build", "engine", "pellucid-bench"), "--lm", model_path, "--lm-ids", os.path.join(d, "p.npy"),
                                "--lm-continuation", os.path.join(d, "c.npy"), "--threads", str(args.threads), "--json", os.path.join(d, "b.json")],
                               check=True, capture_output=True, text=True)
        with open(os.path.join(d, "b.json")) as f:
            b = json.load(f)
    diff = float(np.abs(mine - captum).max())
    ours = b["methods"]["inputxgrad"]["ms"]
    out = {"prompt_tokens": len(prompt), "generated": args.new, "threads": args.threads,
           "captum_ms": float(np.median(times)), "pellucid_ms": ours, "speedup": float(np.median(times)) / ours,
           "max_abs_difference": diff, "pellucid_batched_pass_ms": b["batched_forward_backward_ms"]}
    print(json.dumps(out, indent=1))
    print(bench.stdout)
    if diff > 1e-4 * max(1.0, float(np.abs(captum).max())):
        sys.exit("the attributions differ")


if __name__ == "__main__":
    main()
