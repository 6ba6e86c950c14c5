#!/usr/bin/env python3
"""PyTorch peer of `switchback bench gpu`: the same model (read from the safetensors and config.json that
`bench gpu --write-model DIR` writes) decoded greedily with a static KV cache, eager and under torch.compile.

Same math as the engine: RMSNorm, rotary (half-split), causal attention, GELU (tanh) FFN, Switch top-1 routing
(softmax gate) in every `every`-th block, tied embeddings. Weights bf16; activations bf16 (PyTorch's usual
inference dtype; the engine keeps activations in f32, which only costs it).

Two MoE formulations, the better one is PyTorch's figure at each batch size:
  loop   - per expert, gather its tokens and run its FFN (the Hugging Face way; a host sync per expert)
  gather - per token, gather its expert's weights and run batched matmuls (static shapes, graph-friendly)

    python3 scripts/gpu/torch_peer.py --model DIR --batch 1,16,64 --steps 128
"""
import argparse
import json
import math
import sys
import time

import torch
import torch.nn.functional as F
from safetensors.torch import load_file


def load(model_dir, device):
    cfg = json.load(open(f"{model_dir}/config.json"))
    t = load_file(f"{model_dir}/model.safetensors", device=device)
    return cfg, t


class Model:
    def __init__(self, cfg, t, moe):
        self.cfg, self.moe = cfg, moe
        d, L, E = cfg["d_model"], cfg["layers"], cfg["experts"]
        self.d, self.h, self.hs = d, cfg["heads"], d // cfg["heads"]
        self.eps = cfg["norm_eps"]
        bf = torch.bfloat16
        self.emb = t[cfg["tok_emb"]].to(bf)
        self.head = self.emb if cfg["tied"] else t["lm_head.weight"].to(bf)
        self.final_norm = t["final_norm.weight"].to(bf)
        self.blocks = []
        for l in range(L):
            p = f"blocks.{l}."
            b = {
                "attn_norm": t[p + "attn_norm.weight"].to(bf),
                "wqkv": torch.cat([t[p + "attn.wq"], t[p + "attn.wk"], t[p + "attn.wv"]], 0).to(bf),
                "wo": t[p + "attn.wo"].to(bf),
                "ffn_norm": t[p + "ffn_norm.weight"].to(bf),
            }
            sparse = E > 0 and (l + 1) % cfg["every"] == 0
            if sparse:
                b["router"] = t[p + "router.weight"].float()
                b["w1"] = torch.stack([t[p + f"experts.{e}.w1"] for e in range(E)]).to(bf)
                b["w2"] = torch.stack([t[p + f"experts.{e}.w2"] for e in range(E)]).to(bf)
            else:
                b["w1"] = t[p + "ffn.w1"].to(bf)
                b["w2"] = t[p + "ffn.w2"].to(bf)
            b["sparse"] = sparse
            self.blocks.append(b)
        half = self.hs // 2
        pos = torch.arange(cfg["context"], device=self.emb.device, dtype=torch.float64)
        inv = cfg["rope_theta"] ** (-2.0 * torch.arange(half, device=self.emb.device, dtype=torch.float64) / self.hs)
        ang = pos[:, None] * inv[None, :]
        self.cos, self.sin = ang.cos().to(bf), ang.sin().to(bf)

    def rms(self, x, g):
        xf = x.float()
        return (xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + self.eps)).to(x.dtype) * g

    def rotary(self, x, pos):  # x [b, h, 1, hs], pos [b]
        half = self.hs // 2
        c = self.cos[pos][:, None, None, :]
        s = self.sin[pos][:, None, None, :]
        x1, x2 = x[..., :half], x[..., half:]
        return torch.cat([x1 * c - x2 * s, x1 * s + x2 * c], -1)

    def ffn(self, b, x):
        if not b["sparse"]:
            return F.linear(F.gelu(F.linear(x, b["w1"]), approximate="tanh"), b["w2"])
        probs = torch.softmax(F.linear(x.float(), b["router"]), -1)
        gate, idx = probs.max(-1)
        if self.moe == "gather":
            w1 = b["w1"][idx]  # [n, ff, d]
            w2 = b["w2"][idx]  # [n, d, ff]
            h = F.gelu(torch.bmm(w1, x[:, :, None]), approximate="tanh")
            return torch.bmm(w2, h)[:, :, 0] * gate[:, None].to(x.dtype)
        out = torch.zeros_like(x)
        for e in range(b["w1"].shape[0]):
            rows = (idx == e).nonzero(as_tuple=True)[0]
            if rows.numel() == 0:
                continue
            y = F.linear(F.gelu(F.linear(x[rows], b["w1"][e]), approximate="tanh"), b["w2"][e])
            out.index_add_(0, rows, y * gate[rows, None].to(x.dtype))
        return out

    def step(self, ids, pos, kcache, vcache):
        """One decode step: ids [b], pos [b] (all equal here), caches [L][b, h, ctx, hs]; returns next ids."""
        x = self.emb[ids]
        n = ids.shape[0]
        p0 = pos[0]
        for l, b in enumerate(self.blocks):
            qkv = F.linear(self.rms(x, b["attn_norm"]), b["wqkv"]).view(n, 3, self.h, self.hs)
            q = self.rotary(qkv[:, 0].unsqueeze(2), pos)
            k = self.rotary(qkv[:, 1].unsqueeze(2), pos)
            v = qkv[:, 2].unsqueeze(2)
            kcache[l].index_copy_(2, pos[:1], k)
            vcache[l].index_copy_(2, pos[:1], v)
            mask = torch.arange(kcache[l].shape[2], device=x.device)[None, None, None, :] <= p0
            a = F.scaled_dot_product_attention(q, kcache[l], vcache[l], attn_mask=mask)
            x = x + F.linear(a.reshape(n, self.d), b["wo"])
            x = x + self.ffn(b, self.rms(x, b["ffn_norm"]))
        logits = F.linear(self.rms(x, self.final_norm), self.head)
        return logits.argmax(-1)


def bench(model, step_fn, batch, prompt, steps, warmup):
    cfg = model.cfg
    dev = model.emb.device
    L, ctx = cfg["layers"], cfg["context"]
    kc = [torch.zeros(batch, model.h, ctx, model.hs, device=dev, dtype=torch.bfloat16) for _ in range(L)]
    vc = [torch.zeros_like(k) for k in kc]
    ids = torch.randint(0, cfg["vocab"], (batch,), device=dev)
    # The prompt is fed token by token (this peer times decoding only).
    p = 0
    for _ in range(prompt):
        ids = step_fn(ids, torch.full((batch,), p, device=dev), kc, vc)
        p += 1
    for _ in range(warmup):
        ids = step_fn(ids, torch.full((batch,), p, device=dev), kc, vc)
        p += 1
    torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(steps):
        ids = step_fn(ids, torch.full((batch,), p, device=dev), kc, vc)
        p += 1
    torch.cuda.synchronize()
    return batch * steps / (time.perf_counter() - start)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--batch", default="1,16,64")
    ap.add_argument("--prompt-len", type=int, default=16)
    ap.add_argument("--steps", type=int, default=128)
    ap.add_argument("--warmup", type=int, default=16)
    ap.add_argument("--no-compile", action="store_true")
    a = ap.parse_args()
    if a.prompt_len + a.warmup * 3 + a.steps * 2 > 100000:
        sys.exit("too many steps")
    torch.manual_seed(0)
    cfg, t = load(a.model, "cuda")
    print(f"torch {torch.__version__}, {torch.cuda.get_device_name()}")
    print("| batch | eager loop tok/s | eager gather tok/s | compiled gather tok/s |")
    print("|---:|---:|---:|---:|")
    ctx = cfg["context"]
    for batch in [int(b) for b in a.batch.split(",")]:
        row = [str(batch)]
        for moe, compiled in (("loop", False), ("gather", False), ("gather", True)):
            if compiled and a.no_compile:
                row.append("–")
                continue
            m = Model(cfg, t, moe)
            fn = m.step
            if compiled:
                fn = torch.compile(m.step, mode="max-autotune-no-cudagraphs", dynamic=False)
            # Each run needs prompt + warm-up + steps positions; compiled runs use one extra warm-up round.
            need = a.prompt_len + a.warmup + a.steps
            if need > ctx:
                sys.exit(f"prompt + warm-up + steps = {need} exceed the context {ctx}")
            with torch.inference_mode():
                tps = bench(m, fn, batch, a.prompt_len, a.steps, a.warmup)
            row.append(f"{tps:.0f}")
            print(f"  batch {batch} {moe}{' compiled' if compiled else ''}: {tps:.0f} tok/s", file=sys.stderr, flush=True)
        print("| " + " | ".join(row) + " |", flush=True)


if __name__ == "__main__":
    main()
