#!/usr/bin/python3
"""Trains Pellucid's demo language model: a small GPT on Debian's fortunes.

Corpus: every quotation of Debian's `fortunes` and `fortunes-min` packages (/usr/share/games/fortunes; the
ASCII-art files left out), real English prose, poems and jokes written by people, packaged in Debian (nothing
is downloaded), under free licences, and varied enough that a language model must learn grammar rather than a
template. 5 % of the quotations (every twentieth, by file order) are held out for the validation perplexity.

Tokenizer: SentencePiece unigram, 2048 pieces, case kept (python3-sentencepiece); id 0 pads, 1 is <s> (each
quotation starts with it), 2 </s> (ends it: generation stops there), 3 <unk>.

Model: GPT-2 / nanoGPT layout and names — transformer.wte (token embedding), transformer.wpe (positions),
transformer.h.N (pre-norm blocks: ln_1, attn.c_attn, attn.c_proj, ln_2, mlp.c_fc, mlp.c_proj),
transformer.ln_f, lm_head tied to wte — with explicit causal softmax attention. forward(ids int64 [B, L])
returns logits [B, L, V] for L ≤ 128. Fixed seeds; the wall-clock budget (--minutes, default 35 on 2 cores)
bounds training; the checkpoint with the best validation loss is exported with torch.jit.script and metadata.

Usage: /usr/bin/python3 resources/tools/train_gpt.py [--minutes 35] [--out resources/models]
"""
import argparse
import json
import math
import os
import random
import re
import time

import numpy as np
import sentencepiece as spm
import torch
import torch.nn as nn
import torch.nn.functional as F

FORTUNES = "/usr/share/games/fortunes"
SKIP = {"art", "ascii-art"}
CONTEXT = 128


def load_quotes():
    quotes = []
    for name in sorted(os.listdir(FORTUNES)):
        path = os.path.join(FORTUNES, name)
        if "." in name or name in SKIP or not os.path.isfile(path):
            continue
        with open(path, encoding="utf-8", errors="replace") as f:
            for t in f.read().split("\n%\n"):
                t = re.sub(r"\s+", " ", t.replace("%", "")).strip()
                if len(t) >= 8:
                    quotes.append(t)
    return quotes


class Attention(nn.Module):
    def __init__(self, dim: int, heads: int):
        super().__init__()
        self.heads = heads
        self.c_attn = nn.Linear(dim, 3 * dim)
        self.c_proj = nn.Linear(dim, dim)
        self.register_buffer("mask", torch.tril(torch.ones(CONTEXT, CONTEXT)).view(1, 1, CONTEXT, CONTEXT) == 0, persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, L, D = x.shape
        q, k, v = self.c_attn(x).split(D, dim=2)
        q = q.view(B, L, self.heads, D // self.heads).transpose(1, 2)
        k = k.view(B, L, self.heads, D // self.heads).transpose(1, 2)
        v = v.view(B, L, self.heads, D // self.heads).transpose(1, 2)
        att = (q @ k.transpose(-2, -1)) / math.sqrt(D // self.heads)
        att = att.masked_fill(self.mask[:, :, :L, :L], float("-inf"))
        att = F.softmax(att, dim=-1)
        y = (att @ v).transpose(1, 2).contiguous().view(B, L, D)
        return self.c_proj(y)


class Mlp(nn.Module):
    def __init__(self, dim: int):
        super().__init__()
        self.c_fc = nn.Linear(dim, 4 * dim)
        self.c_proj = nn.Linear(4 * dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.c_proj(F.gelu(self.c_fc(x)))


class Block(nn.Module):
    def __init__(self, dim: int, heads: int, dropout: float):
        super().__init__()
        self.ln_1 = nn.LayerNorm(dim)
        self.attn = Attention(dim, heads)
        self.ln_2 = nn.LayerNorm(dim)
        self.mlp = Mlp(dim)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.drop(self.attn(self.ln_1(x)))
        return x + self.drop(self.mlp(self.ln_2(x)))


class Transformer(nn.Module):
    def __init__(self, vocab: int, dim: int, heads: int, layers: int, dropout: float):
        super().__init__()
        self.wte = nn.Embedding(vocab, dim)
        self.wpe = nn.Embedding(CONTEXT, dim)
        self.drop = nn.Dropout(dropout)
        self.h = nn.ModuleList([Block(dim, heads, dropout) for _ in range(layers)])
        self.ln_f = nn.LayerNorm(dim)


class GPT(nn.Module):
    def __init__(self, vocab: int, dim: int = 128, heads: int = 4, layers: int = 4, dropout: float = 0.1):
        super().__init__()
        self.transformer = Transformer(vocab, dim, heads, layers, dropout)
        self.lm_head = nn.Linear(dim, vocab, bias=False)
        self.lm_head.weight = self.transformer.wte.weight   # tied, as GPT-2
        self.apply(self._init)

    @staticmethod
    def _init(m):
        if isinstance(m, (nn.Linear, nn.Embedding)):
            nn.init.normal_(m.weight, 0.0, 0.02)
        if isinstance(m, nn.Linear) and m.bias is not None:
            nn.init.zeros_(m.bias)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        pos = torch.arange(ids.shape[1], device=ids.device).unsqueeze(0)
        x = self.transformer.drop(self.transformer.wte(ids) + self.transformer.wpe(pos))
        for block in self.transformer.h:
            x = block(x)
        return self.lm_head(self.transformer.ln_f(x))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--minutes", type=float, default=35)
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "..", "models"))
    args = ap.parse_args()
    torch.manual_seed(0); random.seed(0); np.random.seed(0)
    torch.set_num_threads(max(1, os.cpu_count() or 1))
    quotes = load_quotes()
    train_q = [q for i, q in enumerate(quotes) if i % 20 != 19]
    val_q = [q for i, q in enumerate(quotes) if i % 20 == 19]
    os.makedirs(args.out, exist_ok=True)
    corpus = os.path.join(args.out, "gpt_corpus.tmp")
    with open(corpus, "w", encoding="utf-8") as f:
        f.write("\n".join(train_q) + "\n")
    prefix = os.path.join(args.out, "gpt_fortunes_sp")
    spm.SentencePieceTrainer.train(input=corpus, model_prefix=prefix, vocab_size=2048, model_type="unigram",
                                   pad_id=0, bos_id=1, eos_id=2, unk_id=3, num_threads=1, seed_sentencepiece_size=200000,
                                   normalization_rule_name="nmt_nfkc", minloglevel=2)
    os.remove(corpus)
    os.remove(prefix + ".vocab")
    sp = spm.SentencePieceProcessor(model_file=prefix + ".model")

    def stream(qs):
        ids = []
        for q in qs:
            ids += [1] + sp.encode(q) + [2]
        return torch.tensor(ids, dtype=torch.int64)

    train_ids, val_ids = stream(train_q), stream(val_q)
    print(f"{len(quotes)} quotations; {train_ids.numel()} training and {val_ids.numel()} validation tokens")
    model = GPT(sp.get_piece_size())
    opt = torch.optim.AdamW(model.parameters(), lr=2e-3, weight_decay=0.1, betas=(0.9, 0.95))
    g = torch.Generator().manual_seed(1)
    batch = 32

    def get_batch():
        starts = torch.randint(0, train_ids.numel() - CONTEXT - 1, (batch,), generator=g)
        x = torch.stack([train_ids[s:s + CONTEXT] for s in starts])
        y = torch.stack([train_ids[s + 1:s + CONTEXT + 1] for s in starts])
        return x, y

    @torch.no_grad()
    def val_loss():
        model.eval()
        n = (val_ids.numel() - 1) // CONTEXT
        x = val_ids[:n * CONTEXT].view(n, CONTEXT)
        y = val_ids[1:n * CONTEXT + 1].view(n, CONTEXT)
        total = 0.0
        for i in range(0, n, 64):
            total += F.cross_entropy(model(x[i:i + 64]).flatten(0, 1), y[i:i + 64].flatten(), reduction="sum").item()
        model.train()
        return total / (n * CONTEXT)

    budget = args.minutes * 60
    start = time.time()
    best, best_state, step, warmup = float("inf"), None, 0, 100
    while time.time() - start < budget:
        elapsed = (time.time() - start) / budget
        lr = 2e-3 * min(1.0, (step + 1) / warmup) * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(elapsed, 1.0))))
        for group in opt.param_groups:
            group["lr"] = lr
        x, y = get_batch()
        loss = F.cross_entropy(model(x).flatten(0, 1), y.flatten())
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        step += 1
        if step % 200 == 0:
            v = val_loss()
            print(f"step {step} ({time.time() - start:.0f} s): train {loss.item():.3f}, validation {v:.3f} (perplexity {math.exp(v):.1f})", flush=True)
            if v < best:
                best, best_state = v, {k: t.clone() for k, t in model.state_dict().items()}
    v = val_loss()
    if v < best:
        best, best_state = v, {k: t.clone() for k, t in model.state_dict().items()}
    model.load_state_dict(best_state)
    model.eval()
    params = sum(p.numel() for p in model.parameters())
    meta = {
        "format": 1,
        "name": "Fortune GPT (Pellucid demo)",
        "task": "language_model",
        "input": {"dtype": "int64"},
        "tokenizer": {"file": "gpt_fortunes_sp.model", "max_length": CONTEXT},
        "lm": {"embedding": "transformer.wte", "blocks": "transformer.h", "final_norm": "transformer.ln_f",
               "unembed": "lm_head", "context": CONTEXT, "bos_id": 1, "eos_id": 2},
        "suggested_layers": ["transformer.h.0", "transformer.h.3", "transformer.ln_f"],
        "training": {"corpus": "Debian fortunes and fortunes-min (/usr/share/games/fortunes, ASCII art left out)",
                     "quotations": len(quotes), "train_tokens": int(train_ids.numel()), "validation_tokens": int(val_ids.numel()),
                     "steps": step, "minutes": round((time.time() - start) / 60, 1), "parameters": params,
                     "validation_loss": round(best, 4), "validation_perplexity": round(math.exp(best), 2),
                     "script": "resources/tools/train_gpt.py"},
    }
    path = os.path.join(args.out, "fortune_gpt.pt")
    scripted = torch.jit.script(model)
    torch.jit.save(scripted, path, _extra_files={"pellucid.json": json.dumps(meta, indent=1)})
    loaded = torch.jit.load(path)
    x = val_ids[:CONTEXT].view(1, CONTEXT)
    with torch.no_grad():
        assert torch.allclose(loaded(x), model(x), atol=1e-4)
    # Samples, greedy and sampled, from prompts typed as a user would.
    for prompt in ["The", "A computer", "Love is", "Never"]:
        ids = [1] + sp.encode(prompt)
        with torch.no_grad():
            for _ in range(40):
                nxt = int(loaded(torch.tensor([ids[-CONTEXT:]]))[0, -1].argmax())
                if nxt == 2:
                    break
                ids.append(nxt)
        print(f"greedy  {prompt!r}: {sp.decode(ids[1:])}")
    print(f"saved {path}: {params} parameters, {step} steps, validation perplexity {math.exp(best):.2f}")


if __name__ == "__main__":
    main()
