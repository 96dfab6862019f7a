#!/usr/bin/python3
"""Captum's side of `pellucid-bench --versus-captum`: Captum 0.8.0 (../shared/anchors/captum) on the same
TorchScript file, input, target, settings and thread count as Pellucid, driven by the bench over pipes.

The bench starts this script once and sends one JSON request per line on stdin; each answer is one JSON line
on stdout. The first line out says whether Captum could be set up ({"ready": true} or {"ready": false,
"why": ...}). Requests:
  {"op": "load", "model": M.pt, "input": X.npy, "threads": N, "eager": NAME (optional), "device": D (optional),
   "precision": P (optional)}
      D: "cpu" (default) or "cuda:0": the model, the eager model and the input go there, and each timed call
      ends with torch.cuda.synchronize() (maps come back to the CPU after the clock stops).
      P: "fp32" (default), "bf16" or "fp16": the forward-only methods (occlusion, LIME, KernelSHAP) run a copy
      of the model converted to that type, each batch cast to it on the way in and the scores back to float32
      on the way out, as Pellucid's reduced precision does; the gradient methods keep the float32 model.
      -> {"ok": true, "precision": P}
      NAME: a torchvision constructor (resnet18, resnet50, vit_b_16, ...): the eager model is built and given
      the TorchScript file's weights, for the methods Captum runs through module hooks (guided backprop's
      hooks on nn.ReLU modules, LayerGradCam's on the layer), which a TorchScript module cannot take.
  {"op": "run", "method": ..., "target": T, "out": MAP.npy, ...method settings...}
      -> {"ok": true, "ms": compute time, "passes": samples through the model} or {"ok": false, "why": ...}
  {"op": "reference", ...as "run"...}: the same Captum method on a float64 copy of the model and input (the
      map saved as float64): the reference both sides' float32 maps are measured against.
Times are compute only (the model is loaded once, the input is a tensor already), as on Pellucid's side.

Also: captum_methods.py --export-torchvision DIR writes torchvision ResNet-18, ResNet-50 (224², random
weights, traced and scripted) and ViT-B/16 (traced) as TorchScript files for the bench.
"""
import json
import os
import sys
import time
import warnings

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ANCHORS = os.environ.get("PELLUCID_CAPTUM_DIR", os.path.join(ROOT, "..", "shared", "anchors"))


def say(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def export_torchvision(out_dir):
    import torch
    import torchvision

    os.makedirs(out_dir, exist_ok=True)
    torch.manual_seed(0)
    x = torch.rand(1, 3, 224, 224)
    for name in ("resnet18", "resnet50"):
        m = getattr(torchvision.models, name)(weights=None).eval()
        torch.jit.save(torch.jit.trace(m, x), os.path.join(out_dir, name + "_traced.pt"))
        torch.jit.save(torch.jit.script(m), os.path.join(out_dir, name + "_scripted.pt"))
    vit = torchvision.models.vit_b_16(weights=None).eval()
    torch.jit.save(torch.jit.trace(vit, x, check_trace=False), os.path.join(out_dir, "vit_b_16_traced.pt"))
    print(out_dir)


def grid_mask(h, w, cells):
    import torch

    ys = (torch.arange(h) * cells) // h
    xs = (torch.arange(w) * cells) // w
    return (ys[:, None] * cells + xs[None, :]).reshape(1, 1, h, w)


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--export-torchvision":
        export_torchvision(sys.argv[2])
        return
    try:
        import numpy as np
        import torch

        sys.path.insert(0, ANCHORS)
        warnings.filterwarnings("ignore")
        import captum
        from captum.attr import (GuidedBackprop, IntegratedGradients, InputXGradient, KernelShap, LayerGradCam, Lime,
                                 NoiseTunnel, Occlusion, Saliency)
    except Exception as e:  # noqa: BLE001 - whatever is missing, one line for the bench
        say({"ready": False, "why": "%s: %s" % (type(e).__name__, e)})
        return
    say({"ready": True, "captum": getattr(captum, "__version__", "?"), "torch": torch.__version__})

    model = x = low = low_dtype = None
    passes = [0]

    def counted(inp):
        passes[0] += inp.shape[0]
        return model(inp)

    def counted_low(inp):
        passes[0] += inp.shape[0]
        return low(inp.to(low_dtype)).float()

    forward_only = ("occlusion", "lime", "kernelshap")

    def eager_model(weights, name):
        """torchvision's `name` with the TorchScript file's weights, ReLUs not in place (the same function;
        Captum's hooks on an in-place ReLU see its input overwritten)."""
        import torchvision

        m = getattr(torchvision.models, name)(weights=None)
        m.load_state_dict(weights, strict=True)
        for mod in m.modules():
            if isinstance(mod, torch.nn.ReLU):
                mod.inplace = False
        return m.eval()

    def needs_eager(eager, m):
        if eager is None:
            raise RuntimeError("Captum runs %s through module hooks, which a TorchScript module cannot take; "
                               "name the eager architecture (--captum-eager)" % m)
        return eager

    def attribute(fwd, x, req, eager):
        m, t = req["method"], int(req["target"])
        if m == "saliency":
            a = Saliency(fwd).attribute(x, target=t, abs=True)
        elif m == "inputxgrad":
            a = InputXGradient(fwd).attribute(x, target=t)
        elif m == "ig":
            a = IntegratedGradients(fwd).attribute(
                x, baselines=torch.zeros_like(x), target=t, n_steps=int(req["steps"]), method="gausslegendre",
                internal_batch_size=req.get("internal_batch") or None)
        elif m == "smoothgrad":
            sigma = float(req["stdev"]) * float(x.max() - x.min())
            a = NoiseTunnel(Saliency(fwd)).attribute(
                x, nt_type="smoothgrad", nt_samples=int(req["samples"]), stdevs=sigma, target=t, abs=True)
        elif m == "guided-backprop":
            a = GuidedBackprop(needs_eager(eager, m)).attribute(x, target=t)
        elif m == "gradcam":
            net = needs_eager(eager, m)
            a = LayerGradCam(net, net.get_submodule(req["layer"])).attribute(x, target=t, relu_attributions=True)
        elif m == "occlusion":
            window = tuple(int(v) if int(v) > 0 else x.shape[i + 1] for i, v in enumerate(req["window"]))
            stride = tuple(int(v) if int(v) > 0 else x.shape[i + 1] for i, v in enumerate(req["stride"]))
            a = Occlusion(fwd).attribute(x, sliding_window_shapes=window, strides=stride,
                                         baselines=float(req["fill"]), target=t,
                                         perturbations_per_eval=int(req["ppe"]))
        elif m in ("lime", "kernelshap"):
            mask = grid_mask(x.shape[-2], x.shape[-1], int(req["grid"])).to(x.device)
            cls = Lime if m == "lime" else KernelShap
            a = cls(fwd).attribute(x, target=t, feature_mask=mask, n_samples=int(req["samples"]),
                                   perturbations_per_eval=int(req["ppe"]))
        else:
            raise RuntimeError("no Captum counterpart for " + m)
        return a

    model64 = eager = eager64 = None
    req_model = [None, None]   # the file, the eager architecture

    def count(module, inp):
        passes[0] += inp[0].shape[0]
    for line in sys.stdin:
        req = json.loads(line)
        try:
            if req["op"] == "load":
                torch.set_num_threads(int(req["threads"]))
                device = torch.device(req.get("device") or "cpu")
                model = torch.jit.load(req["model"], map_location=device).eval()
                req_model[:], model64, eager, eager64, low = [req["model"], req.get("eager")], None, None, None, None
                precision = req.get("precision") or "fp32"
                dtypes = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}
                if precision not in dtypes:
                    raise RuntimeError("unknown precision " + precision)
                low_dtype = dtypes[precision]
                if low_dtype is not None:
                    low = torch.jit.load(req["model"], map_location=device).eval().to(low_dtype)
                if req_model[1]:
                    eager = eager_model(model.state_dict(), req_model[1]).to(device)
                    eager.register_forward_pre_hook(count)
                x = torch.from_numpy(np.load(req["input"]).astype(np.float32)).to(device)
                with torch.no_grad():
                    y = model(x)
                    if eager is not None and not torch.allclose(eager(x), y, rtol=1e-4, atol=1e-4):
                        raise RuntimeError("torchvision's %s with this file's weights does not compute what the file "
                                           "does" % req["eager"])
                    if low is not None:
                        ylow = low(x.to(low_dtype)).float()
                        if not torch.isfinite(ylow).all():
                            raise RuntimeError("the model's output in %s is not finite" % precision)
                say({"ok": True, "precision": precision})
                continue
            if req["op"] == "reference":
                if model64 is None:
                    model64 = torch.jit.load(req_model[0], map_location="cpu").eval().double()
                if eager64 is None and req_model[1]:
                    eager64 = eager_model({k: v.cpu() for k, v in model.state_dict().items()}, req_model[1]).double()
                passes[0] = 0
                a = attribute(lambda inp: model64(inp), x.detach().cpu().double(), req, eager64)
                np.save(req["out"], a.detach().cpu().numpy().astype(np.float64))
                say({"ok": True})
                continue
            passes[0] = 0
            t0 = time.perf_counter()
            a = attribute(counted_low if low is not None and req["method"] in forward_only else counted, x, req, eager)
            if x.is_cuda:
                torch.cuda.synchronize()
            ms = (time.perf_counter() - t0) * 1000.0
            np.save(req["out"], a.detach().cpu().numpy().astype(np.float32))
            say({"ok": True, "ms": ms, "passes": passes[0]})
        except Exception as e:  # noqa: BLE001 - reported per request; the bench goes on
            say({"ok": False, "why": str(e).splitlines()[0] if str(e) else type(e).__name__})


if __name__ == "__main__":
    main()
