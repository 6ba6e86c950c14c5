"""How fast cuBLAS (through torch.bmm) reads expert weights: batched BF16 matmuls of the reference model's expert shapes
(4096 x 1024 and 1024 x 4096, 10 or 16 experts) against 2-32 tokens each, as GB/s of weights read, beside a
device-to-device copy's GB/s (read + write). Run on a GPU host: python3 scripts/gpu/bmm_probe.py (docs/gpu.md)."""
import torch, time
torch.backends.cuda.matmul.allow_bf16_reduced_precision_reduction = False
dev = 'cuda'
def bench(fn, iters=200):
    for _ in range(10): fn()
    torch.cuda.synchronize()
    s = torch.cuda.Event(enable_timing=True); e = torch.cuda.Event(enable_timing=True)
    s.record()
    for _ in range(iters): fn()
    e.record(); torch.cuda.synchronize()
    return s.elapsed_time(e) / iters * 1e3  # us
# copy bandwidth
a = torch.empty(512*1024*1024//2, dtype=torch.bfloat16, device=dev); b = torch.empty_like(a)
us = bench(lambda: b.copy_(a), 50); print(f"copy bw {2*a.numel()*2/us/1e3:.0f} GB/s")
del a, b
E = 16
for rows, cols in ((4096, 1024), (1024, 4096)):
    W = torch.randn(E, rows, cols, device=dev).to(torch.bfloat16)
    for used in (10, 16):
        for n in (2, 4, 8, 16, 32):
            x = torch.randn(used, n, cols, device=dev).to(torch.bfloat16)
            Wu = W[:used]
            out = torch.empty(used, n, rows, device=dev, dtype=torch.float32)
            def f():
                torch.bmm(x, Wu.transpose(1, 2), out_dtype=torch.float32, out=out)
            try:
                us = bench(f)
            except Exception:
                # torch versions without bmm's out_dtype: BF16 output
                outb = torch.empty(used, n, rows, device=dev, dtype=torch.bfloat16)
                us = bench(lambda: torch.bmm(x, Wu.transpose(1, 2), out=outb))
            gb = used * rows * cols * 2 / us / 1e3
            print(f"W {rows}x{cols} experts {used} n {n}: {us:.1f} us  {gb:.0f} GB/s", flush=True)
