#!/usr/bin/python3
"""Train Pellucid's demo recommender: matrix factorisation with biases, on interaction data with planted
taste groups (so explanations can be checked against the truth), or on any MovieLens-style CSV.

    /usr/bin/python3 resources/tools/train_recommender.py                       # the synthetic demo
    /usr/bin/python3 resources/tools/train_recommender.py --ratings ratings.csv [--movies movies.csv]

score(u, i) = mu + b_u + b_i + p_u . q_i. Training minimises squared error + lambda (|p|^2 + |q|^2) with Adam,
then ends with an exact ridge (ALS) step for every user's factors with the item side fixed — the same small
least-squares problem Pellucid solves for leave-one-out influence, so the two agree. Ids are made dense
(0..U-1, 0..I-1); the written CSVs use the dense ids and items.csv keeps the original ids and titles.
Outputs (resources/models, resources/data): recommender_mf.pt (metadata inside), recommender_ratings.csv
(training interactions), recommender_heldout.csv, recommender_items.csv.
"""
import argparse
import csv
import json
import os
import random

import numpy as np
import torch
import torch.nn as nn

GENRES = ["Sci-fi", "Romance", "Horror", "Documentary"]


class MF(nn.Module):
    def __init__(self, users, items, dim):
        super().__init__()
        self.user_factors = nn.Embedding(users, dim)
        self.item_factors = nn.Embedding(items, dim)
        self.user_bias = nn.Embedding(users, 1)
        self.item_bias = nn.Embedding(items, 1)
        self.global_bias = nn.Parameter(torch.zeros(1))

    def forward(self, users: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        p = self.user_factors(users)
        q = self.item_factors(items)
        return (p * q).sum(-1) + self.user_bias(users).squeeze(-1) + self.item_bias(items).squeeze(-1) + self.global_bias


def synthetic(seed=0, users=400, per_genre=60, ratings_per_user=30):
    rng = random.Random(seed)
    items = [(i, f"{GENRES[i // per_genre]} #{i % per_genre + 1}", GENRES[i // per_genre]) for i in range(per_genre * len(GENRES))]
    rows = []
    for u in range(users):
        g = u % len(GENRES)
        own = [i for i in range(len(items)) if i // per_genre == g]
        other = [i for i in range(len(items)) if i // per_genre != g]
        chosen = rng.sample(own, int(ratings_per_user * 0.7)) + rng.sample(other, ratings_per_user - int(ratings_per_user * 0.7))
        rng.shuffle(chosen)   # time order independent of taste
        for t, i in enumerate(chosen):
            liked = i // per_genre == g
            r = min(5.0, max(1.0, round((4.5 if liked else 2.0) + rng.gauss(0, 0.6))))
            rows.append((u, i, float(r), 1_000_000 + t))
    return rows, items


def read_movielens(ratings, movies):
    rows, ids_u, ids_i = [], {}, {}
    with open(ratings) as f:
        for rec in csv.DictReader(f):
            u = ids_u.setdefault(rec["userId"], len(ids_u))
            i = ids_i.setdefault(rec["movieId"], len(ids_i))
            rows.append((u, i, float(rec["rating"]), int(rec.get("timestamp", 0) or 0)))
    titles = {}
    if movies:
        with open(movies) as f:
            for rec in csv.DictReader(f):
                titles[rec["movieId"]] = (rec.get("title", rec["movieId"]), rec.get("genres", ""))
    items = [(idx, titles.get(mid, (mid, ""))[0], titles.get(mid, (mid, ""))[1]) for mid, idx in sorted(ids_i.items(), key=lambda kv: kv[1])]
    return rows, items


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser()
    ap.add_argument("--ratings")
    ap.add_argument("--movies")
    ap.add_argument("--dim", type=int, default=8)
    ap.add_argument("--lam", type=float, default=5.0)
    ap.add_argument("--epochs", type=int, default=300)
    ap.add_argument("--out-model", default=os.path.join(here, "..", "models", "recommender_mf.pt"))
    ap.add_argument("--out-data", default=os.path.join(here, "..", "data"))
    args = ap.parse_args()
    torch.manual_seed(0)
    random.seed(0)
    rows, items = read_movielens(args.ratings, args.movies) if args.ratings else synthetic()
    n_users = max(r[0] for r in rows) + 1
    n_items = len(items)
    # Hold out each user's most recent 20% interactions.
    by_user = {}
    for r in rows:
        by_user.setdefault(r[0], []).append(r)
    train, held = [], []
    for u, rs in by_user.items():
        rs.sort(key=lambda r: r[3])
        k = max(1, len(rs) // 5)
        train += rs[:-k]
        held += rs[-k:]
    U = torch.tensor([r[0] for r in train]); I = torch.tensor([r[1] for r in train])
    R = torch.tensor([r[2] for r in train], dtype=torch.float32)
    model = MF(n_users, n_items, args.dim)
    with torch.no_grad():
        for emb in (model.user_factors, model.item_factors):
            emb.weight.normal_(0, 0.1)
        model.user_bias.weight.zero_(); model.item_bias.weight.zero_()
        model.global_bias.fill_(float(R.mean()))
    opt = torch.optim.Adam(model.parameters(), lr=0.05)
    for epoch in range(args.epochs):
        opt.zero_grad()
        pred = model(U, I)
        loss = ((pred - R) ** 2).sum() + args.lam * (model.user_factors.weight.pow(2).sum() + model.item_factors.weight.pow(2).sum())
        loss.backward()
        opt.step()
    with torch.no_grad():
        HU = torch.tensor([r[0] for r in held]); HI = torch.tensor([r[1] for r in held]); HR = torch.tensor([r[2] for r in held])
        print(f"before the ridge step: train RMSE {float(((model(U, I) - R) ** 2).mean().sqrt()):.3f}, held-out {float(((model(HU, HI) - HR) ** 2).mean().sqrt()):.3f}")
    # Exact ridge step for every user's factors (item side fixed): what Pellucid's refit computes.
    with torch.no_grad():
        Q = model.item_factors.weight.double(); mu = model.global_bias.double()
        bu = model.user_bias.weight.double().squeeze(1); bi = model.item_bias.weight.double().squeeze(1)
        for u in range(n_users):
            mask = U == u
            items_u = I[mask]; r = R[mask].double()
            Qs = Q[items_u]
            target = r - mu - bu[u] - bi[items_u]
            A = Qs.T @ Qs + args.lam * torch.eye(args.dim, dtype=torch.float64)
            model.user_factors.weight[u] = torch.linalg.solve(A, Qs.T @ target).float()
        rmse = float(((model(torch.tensor([r[0] for r in held]), torch.tensor([r[1] for r in held]))
                       - torch.tensor([r[2] for r in held])) ** 2).mean().sqrt())
    print(f"{n_users} users, {n_items} items, {len(train)} training and {len(held)} held-out ratings; held-out RMSE {rmse:.3f}")
    os.makedirs(args.out_data, exist_ok=True)
    def write(path, rs):
        with open(path, "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["userId", "movieId", "rating", "timestamp"])
            for r in sorted(rs):
                w.writerow([r[0], r[1], r[2], r[3]])
    write(os.path.join(args.out_data, "recommender_ratings.csv"), train)
    write(os.path.join(args.out_data, "recommender_heldout.csv"), held)
    with open(os.path.join(args.out_data, "recommender_items.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["movieId", "title", "genres"])
        for it in items:
            w.writerow(list(it))
    # Data files are named relative to the model file.
    rel = lambda name: os.path.relpath(os.path.join(args.out_data, name), os.path.dirname(os.path.abspath(args.out_model)))
    meta = {
        "format": 1, "name": "Matrix-factorisation recommender (Pellucid demo, planted taste groups)" if not args.ratings else "Matrix-factorisation recommender",
        "task": "recommendation",
        "recommender": {"user_factors": "user_factors.weight", "item_factors": "item_factors.weight",
                        "user_bias": "user_bias.weight", "item_bias": "item_bias.weight", "global_bias": "global_bias",
                        "lambda": args.lam, "rating_range": [1, 5],
                        "data": rel("recommender_ratings.csv"), "heldout": rel("recommender_heldout.csv"),
                        "items": rel("recommender_items.csv")},
        "training": {"heldout_rmse": round(rmse, 4), "script": "resources/tools/train_recommender.py",
                     "planted_groups": None if args.ratings else {"users": "user u belongs to group u mod 4",
                                                                   "items": "item i belongs to genre i // 60", "genres": GENRES}},
    }
    scripted = torch.jit.script(model)
    torch.jit.save(scripted, args.out_model, _extra_files={"pellucid.json": json.dumps(meta, indent=1)})
    print("saved", args.out_model)


if __name__ == "__main__":
    main()
