"""Eager-PyTorch reference for Pellucid's diffusion engine (engine/diffusion), shared by the demo's trainer
(resources/tools/train_diffusion.py) and the test fixtures (tests/fixtures/make_diffusion_fixtures.py).

Written from the papers and diffusers' schedulers' definitions, not from Pellucid's C++:
* schedules: linear, scaled_linear (linear in sqrt(beta)), cosine (Nichol & Dhariwal 2021, max beta 0.999);
  alpha_bar = cumprod(1 - beta) in float64;
* DDIM (eta 0) and DDPM ancestral sampling on "leading" timesteps t_k = k * (T // N), k = N-1 ... 0, with
  alpha_bar_prev = 1 after the last step; x0 = (x_t - sqrt(1 - ab) eps) / sqrt(ab); v prediction;
  classifier-free guidance eps = eps(null) + g (eps(c) - eps(null)) with both passes in one batch [null, c];
* attention probes: every Attention module below passes its probabilities [B, heads, Q, K] through
  `PROBE(module, p)` when one is set (eager only), which may record or edit them (prompt-to-prompt).
"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

PROBE = None   # callable(module, probs) -> probs, eager runs only


def betas_for(cfg):
    T = cfg["train_steps"]
    kind = cfg.get("beta_schedule", "linear")
    if kind == "linear":
        return torch.linspace(cfg["beta_start"], cfg["beta_end"], T, dtype=torch.float64)
    if kind == "scaled_linear":
        return torch.linspace(cfg["beta_start"] ** 0.5, cfg["beta_end"] ** 0.5, T, dtype=torch.float64) ** 2
    if kind == "cosine":
        f = lambda u: math.cos((u + 0.008) / 1.008 * math.pi / 2) ** 2
        return torch.tensor([min(1 - f((i + 1) / T) / f(i / T), 0.999) for i in range(T)], dtype=torch.float64)
    raise ValueError(kind)


def alphas_cumprod(cfg):
    return torch.cumprod(1.0 - betas_for(cfg), dim=0)


def timesteps(cfg, steps):
    ratio = cfg["train_steps"] // steps
    return [k * ratio for k in range(steps - 1, -1, -1)], ratio


def eps_of(model, x, t, cond, guidance, null_id):
    if guidance == 1.0:
        return model(x, torch.full((1,), t, dtype=torch.long), cond)
    null = torch.full_like(cond, null_id)
    e = model(torch.cat([x, x]), torch.full((2,), t, dtype=torch.long), torch.cat([null, cond]))
    return e[0:1] + guidance * (e[1:2] - e[0:1])


@torch.no_grad()
def sample(model, cfg, cond, steps, seed, sampler="ddim", guidance=1.0, on_step=None):
    """Returns (final x [1,C,H,W], x0 of each step [N,C,H,W], x_t after each step [N,C,H,W])."""
    acp = alphas_cumprod(cfg)
    ts, ratio = timesteps(cfg, steps)
    torch.manual_seed(seed)
    x = torch.randn(cfg["sample_shape"])
    x0s, xts = [], []
    v_pred = cfg.get("prediction", "epsilon") == "v"
    for k, t in enumerate(ts):
        if on_step:
            on_step(k, t)
        prev = t - ratio
        ab = float(acp[t])
        abp = float(acp[prev]) if prev >= 0 else 1.0
        out = eps_of(model, x, t, cond, guidance, cfg.get("null_id", 0))
        if v_pred:
            x0 = math.sqrt(ab) * x - math.sqrt(1 - ab) * out
            eps = math.sqrt(ab) * out + math.sqrt(1 - ab) * x
        else:
            eps = out
            x0 = (x - math.sqrt(1 - ab) * eps) / math.sqrt(ab)
        if sampler == "ddim":
            x = math.sqrt(abp) * x0 + math.sqrt(1 - abp) * eps
        else:
            beta_t = 1 - ab / abp
            c0 = math.sqrt(abp) * beta_t / (1 - ab)
            ct = math.sqrt(1 - beta_t) * (1 - abp) / (1 - ab)
            mean = c0 * x0 + ct * x
            if prev >= 0:
                var = max((1 - abp) / (1 - ab) * beta_t, 1e-20)
                x = mean + math.sqrt(var) * torch.randn(cfg["sample_shape"])
            else:
                x = mean
        x0s.append(x0)
        xts.append(x)
    return x, torch.cat(x0s), torch.cat(xts)


def daam_maps(records, H, W):
    """records: list of probs [heads, Q, K] (one per site per step, conditional pass). Each head's map
    reshaped to h x w (Q = h*w in the H:W ratio), bicubically upsampled (align_corners False) to H x W,
    clamped at 0, then averaged over heads, sites and steps: [K, H, W]."""
    total, count = None, 0
    for p in records:
        heads, Q, K = p.shape
        h = int(round(math.sqrt(Q * H / W)))
        w = Q // h
        m = p.permute(0, 2, 1).reshape(heads, K, h, w)
        up = F.interpolate(m.double(), size=(H, W), mode="bicubic", align_corners=False).clamp_min(0)
        s = up.sum(0)
        total = s if total is None else total + s
        count += heads
    return (total / count).float()


# ---------------------------------------------------------------------------------------------- the UNet


def timestep_embedding(t, dim: int):
    half = dim // 2
    freqs = torch.exp(-math.log(10000.0) * torch.arange(half, dtype=torch.float32) / half)
    a = t.float().unsqueeze(1) * freqs.unsqueeze(0)
    return torch.cat([torch.sin(a), torch.cos(a)], dim=1)


class ResBlock(nn.Module):
    def __init__(self, cin, cout, tdim, groups=8):
        super().__init__()
        self.n1 = nn.GroupNorm(min(groups, cin), cin)
        self.c1 = nn.Conv2d(cin, cout, 3, padding=1)
        self.t = nn.Linear(tdim, cout)
        self.n2 = nn.GroupNorm(min(groups, cout), cout)
        self.c2 = nn.Conv2d(cout, cout, 3, padding=1)
        self.skip = nn.Conv2d(cin, cout, 1) if cin != cout else nn.Identity()

    def forward(self, x, temb):
        h = self.c1(F.silu(self.n1(x)))
        h = h + self.t(temb).unsqueeze(-1).unsqueeze(-1)
        h = self.c2(F.silu(self.n2(h)))
        return self.skip(x) + h


class Attention(nn.Module):
    """Written-out softmax attention over a feature map: keys from `ctx` [B, K, D] (cross-attention) or from
    the map itself when ctx is the map's own tokens (self-attention)."""

    def __init__(self, dim, ctx_dim, heads, groups=8):
        super().__init__()
        self.heads = heads
        self.norm = nn.GroupNorm(min(groups, dim), dim)
        self.q = nn.Linear(dim, dim, bias=False)
        self.k = nn.Linear(ctx_dim, dim, bias=False)
        self.v = nn.Linear(ctx_dim, dim, bias=False)
        self.out = nn.Linear(dim, dim)

    def forward(self, x, ctx):
        B, C, H, W = x.shape
        h = self.norm(x).flatten(2).transpose(1, 2)   # [B, Q, C]
        dh = C // self.heads
        q = self.q(h).view(B, H * W, self.heads, dh).transpose(1, 2)
        k = self.k(ctx).view(B, ctx.shape[1], self.heads, dh).transpose(1, 2)
        v = self.v(ctx).view(B, ctx.shape[1], self.heads, dh).transpose(1, 2)
        p = torch.softmax(torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(dh), dim=-1)
        if not torch.jit.is_scripting():
            if PROBE is not None:
                p = PROBE(self, p)
        o = torch.matmul(p, v).transpose(1, 2).reshape(B, H * W, C)
        return x + self.out(o).transpose(1, 2).reshape(B, C, H, W)


class SelfAttention(nn.Module):
    """The same written-out attention with keys and values from the map's own tokens."""

    def __init__(self, dim, heads, groups=8):
        super().__init__()
        self.heads = heads
        self.norm = nn.GroupNorm(min(groups, dim), dim)
        self.q = nn.Linear(dim, dim, bias=False)
        self.k = nn.Linear(dim, dim, bias=False)
        self.v = nn.Linear(dim, dim, bias=False)
        self.out = nn.Linear(dim, dim)

    def forward(self, x):
        B, C, H, W = x.shape
        h = self.norm(x).flatten(2).transpose(1, 2)
        dh = C // self.heads
        q = self.q(h).view(B, H * W, self.heads, dh).transpose(1, 2)
        k = self.k(h).view(B, H * W, self.heads, dh).transpose(1, 2)
        v = self.v(h).view(B, H * W, self.heads, dh).transpose(1, 2)
        p = torch.softmax(torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(dh), dim=-1)
        if not torch.jit.is_scripting():
            if PROBE is not None:
                p = PROBE(self, p)
        o = torch.matmul(p, v).transpose(1, 2).reshape(B, H * W, C)
        return x + self.out(o).transpose(1, 2).reshape(B, C, H, W)


class MHACross(nn.Module):
    """Cross-attention through nn.MultiheadAttention (for the fixtures: another kind of site)."""

    def __init__(self, dim, ctx_dim, heads, groups=8):
        super().__init__()
        self.norm = nn.GroupNorm(min(groups, dim), dim)
        self.mha = nn.MultiheadAttention(dim, heads, kdim=ctx_dim, vdim=ctx_dim, batch_first=True)

    def forward(self, x, ctx):
        B, C, H, W = x.shape
        h = self.norm(x).flatten(2).transpose(1, 2)
        if not torch.jit.is_scripting():
            if PROBE is not None:
                return x + self.explicit(h, ctx).transpose(1, 2).reshape(B, C, H, W)
        o, _ = self.mha(h, ctx, ctx, need_weights=False)
        return x + o.transpose(1, 2).reshape(B, C, H, W)

    @torch.jit.unused
    def explicit(self, h, ctx):
        """nn.MultiheadAttention's arithmetic written out (eager reference), its probabilities through PROBE."""
        m = self.mha
        B, Q, C = h.shape
        heads, dh = m.num_heads, C // m.num_heads
        bq, bk, bv = m.in_proj_bias.chunk(3)
        q = F.linear(h, m.q_proj_weight, bq).view(B, Q, heads, dh).transpose(1, 2)
        k = F.linear(ctx, m.k_proj_weight, bk).view(B, -1, heads, dh).transpose(1, 2)
        v = F.linear(ctx, m.v_proj_weight, bv).view(B, -1, heads, dh).transpose(1, 2)
        p = torch.softmax(torch.matmul(q / math.sqrt(dh), k.transpose(-1, -2)), dim=-1)
        p = PROBE(self, p)
        o = torch.matmul(p, v).transpose(1, 2).reshape(B, Q, C)
        return m.out_proj(o)


class UNet(nn.Module):
    """forward(x_t [B,1,H,W], t int64 [B], cond int64 [B,K]) -> eps [B,1,H,W]; H, W divisible by 4. The full
    resolution has one convolution in and two out (the CPU's cost); the work is at 1/2 and 1/4."""

    def __init__(self, vocab=11, K=2, ch=(16, 32, 64), ctx_dim=64, heads=2, groups=8, mha=False, in_ch=1):
        super().__init__()
        c1, c2, c3 = ch
        tdim = 4 * c1
        self.tdim = c1
        self.temb = nn.Sequential(nn.Linear(c1, tdim), nn.SiLU(), nn.Linear(tdim, tdim))
        self.tok = nn.Embedding(vocab, ctx_dim)
        self.pos = nn.Parameter(torch.randn(K, ctx_dim) * 0.1)
        Cross = MHACross if mha else Attention
        self.inc = nn.Conv2d(in_ch, c1, 3, padding=1)
        self.down1 = nn.Conv2d(c1, c2, 3, stride=2, padding=1)
        self.d2 = ResBlock(c2, c2, tdim, groups)
        self.x2 = Cross(c2, ctx_dim, heads, groups)
        self.down2 = nn.Conv2d(c2, c3, 3, stride=2, padding=1)
        self.m1 = ResBlock(c3, c3, tdim, groups)
        self.sa = SelfAttention(c3, heads, groups)
        self.xm = Cross(c3, ctx_dim, heads, groups)
        self.m2 = ResBlock(c3, c3, tdim, groups)
        self.u2 = ResBlock(c3 + c2, c2, tdim, groups)
        self.xu = Cross(c2, ctx_dim, heads, groups)
        self.u1 = nn.Conv2d(c2 + c1, c1, 3, padding=1)
        self.outc = nn.Conv2d(c1, in_ch, 3, padding=1)

    def forward(self, x, t, cond):
        temb = self.temb(timestep_embedding(t, self.tdim))
        ctx = self.tok(cond) + self.pos[: cond.shape[1]].unsqueeze(0)
        h1 = self.inc(x)
        h2 = self.x2(self.d2(self.down1(h1), temb), ctx)
        h = self.m1(self.down2(h2), temb)
        h = self.xm(self.sa(h), ctx)
        h = self.m2(h, temb)
        h = F.interpolate(h, scale_factor=2.0, mode="nearest")
        h = self.xu(self.u2(torch.cat([h, h2], 1), temb), ctx)
        h = F.interpolate(h, scale_factor=2.0, mode="nearest")
        h = F.silu(self.u1(torch.cat([h, h1], 1)))
        return self.outc(h)
