#!/usr/bin/python3
"""Train Pellucid's bundled text transformer and its SentencePiece tokenizer, and export both.

    /usr/bin/python3 resources/tools/train_text.py [--epochs 30] [--out resources/models]

Corpus: the quotations of Debian's `fortunes` package (/usr/share/games/fortunes), real English text in
categories; the task is to tell four of them apart — computers, politics, science, songs & poems — from
the text alone (3,098 quotations; every fifth one, by position in its file, is held out as the test set).
Why this corpus: it is real prose written by people, ships in Debian (nothing is downloaded), is labelled
by topic, and short enough that a small transformer trains on two CPU cores in minutes while its attention
has something to find (topic words, rhyme and line structure for poems).

Tokenizer: a SentencePiece unigram model (vocabulary 2,000, lower-cased text) trained on the training split
(python3-sentencepiece); id 0 pads, 1 is <s> (the classification token), 2 </s>, 3 <unk>.
Model: token + learned position embeddings (width 64), nn.TransformerEncoder (2 post-norm layers, 4 heads,
feed-forward 128), the <s> token's output classified. Scripted, so it runs through PyTorch's fused
encoder-layer kernel in inference, which Pellucid rewrites to expose the attention.
"""
import argparse
import json
import os
import random
import re

import numpy as np
import sentencepiece as spm
import torch
import torch.nn as nn
import torch.nn.functional as F

FORTUNES = "/usr/share/games/fortunes"
CATEGORIES = [("computers", "computers"), ("politics", "politics"), ("science", "science"), ("songs-poems", "songs & poems")]
MAX_LEN = 128


def load():
    items = []
    for c, (name, _) in enumerate(CATEGORIES):
        with open(os.path.join(FORTUNES, name), encoding="utf-8", errors="replace") as f:
            texts = [t.strip() for t in f.read().split("\n%\n")]
        for i, t in enumerate(x for x in texts if x):
            t = re.sub(r"\s+", " ", t).strip()
            items.append((t, c, i % 5 == 4))   # every fifth quotation held out
    return items


class TextClassifier(nn.Module):
    def __init__(self, vocab: int, dim: int = 64, heads: int = 4, layers: int = 2, classes: int = 4):
        super().__init__()
        self.embed = nn.Embedding(vocab, dim, padding_idx=0)
        self.pos = nn.Embedding(MAX_LEN, dim)
        layer = nn.TransformerEncoderLayer(dim, heads, 128, dropout=0.1, batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.head = nn.Linear(dim, classes)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        pos = torch.arange(ids.shape[1], device=ids.device).unsqueeze(0)
        x = self.encoder(self.embed(ids) + self.pos(pos), src_key_padding_mask=ids == 0)
        return self.head(x[:, 0])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "..", "models"))
    args = ap.parse_args()
    torch.manual_seed(0); random.seed(0); np.random.seed(0)
    torch.set_num_threads(max(1, os.cpu_count() or 1))
    items = load()
    train = [x for x in items if not x[2]]
    test = [x for x in items if x[2]]
    os.makedirs(args.out, exist_ok=True)
    corpus = os.path.join(args.out, "text_corpus.tmp")
    with open(corpus, "w", encoding="utf-8") as f:
        for t, _, _ in train:
            f.write(t.lower() + "\n")
    prefix = os.path.join(args.out, "fortunes_sp")
    spm.SentencePieceTrainer.train(input=corpus, model_prefix=prefix, vocab_size=2000, model_type="unigram",
                                   pad_id=0, bos_id=1, eos_id=2, unk_id=3, num_threads=1, seed_sentencepiece_size=100000,
                                   normalization_rule_name="nmt_nfkc_cf", minloglevel=2)
    os.remove(corpus)
    os.remove(prefix + ".vocab")
    sp = spm.SentencePieceProcessor(model_file=prefix + ".model")

    def encode(t):
        ids = [1] + sp.encode(t.lower()) + [2]
        return ids[:MAX_LEN - 1] + [2] if len(ids) > MAX_LEN else ids

    def batch(rows):
        seqs = [encode(t) for t, _, _ in rows]
        width = max(len(s) for s in seqs)
        ids = torch.zeros(len(seqs), width, dtype=torch.long)
        for i, s in enumerate(seqs):
            ids[i, :len(s)] = torch.tensor(s)
        return ids, torch.tensor([c for _, c, _ in rows])

    def evaluate(model, rows):
        model.eval()
        with torch.no_grad():
            correct = 0
            for i in range(0, len(rows), 256):
                ids, y = batch(rows[i:i + 256])
                correct += (model(ids).argmax(1) == y).sum().item()
        return correct / len(rows)

    model = TextClassifier(sp.get_piece_size())
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.01)
    steps = (len(train) + 31) // 32
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=2e-3, total_steps=args.epochs * steps)
    rng = random.Random(0)
    for epoch in range(args.epochs):
        model.train()
        rng.shuffle(train)
        total = 0.0
        for i in range(0, len(train), 32):
            ids, y = batch(train[i:i + 32])
            loss = F.cross_entropy(model(ids), y, label_smoothing=0.05)
            opt.zero_grad(); loss.backward(); opt.step(); sched.step()
            total += loss.item() * len(y)
        if epoch % 5 == 4 or epoch + 1 == args.epochs:
            print(f"epoch {epoch + 1}: train loss {total / len(train):.4f}  test accuracy {evaluate(model, test):.4f}", flush=True)
    model.eval()
    acc = evaluate(model, test)
    counts = {name: sum(1 for _, c, h in test if c == k) for k, (_, name) in enumerate(CATEGORIES)}
    meta = {
        "format": 1,
        "name": "Fortune topic transformer (Pellucid demo)",
        "task": "classification",
        "input": {"shape": [1, 16], "dtype": "int64"},
        "labels": [name for _, name in CATEGORIES],
        "tokenizer": {"file": "fortunes_sp.model", "max_length": MAX_LEN},
        "suggested_layers": ["encoder.layers.0", "encoder.layers.1"],
        "training": {"corpus": "Debian fortunes: " + ", ".join(n for n, _ in CATEGORIES), "train": len(train), "test": len(test),
                     "test_per_class": counts, "epochs": args.epochs, "test_accuracy": round(acc, 4),
                     "majority_baseline": round(max(counts.values()) / len(test), 4), "script": "resources/tools/train_text.py"},
    }
    path = os.path.join(args.out, "fortune_transformer.pt")
    torch.jit.save(torch.jit.script(model), path, _extra_files={"pellucid.json": json.dumps(meta, indent=1)})
    loaded = torch.jit.load(path)
    ids, _ = batch(test[:8])
    with torch.no_grad():
        assert torch.allclose(loaded(ids), model(ids), atol=1e-4)
    print(f"saved {path}; test accuracy {acc:.4f} (majority {meta['training']['majority_baseline']})")


if __name__ == "__main__":
    main()
