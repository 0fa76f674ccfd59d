"""PyTorch peer of `simpletuner bench train-step`: the same Qwen-Image double-stream block math
(LayerNorm + modulation, joint attention with QK RMSNorm, GELU-tanh MLPs) with LoRA on
to_q/to_k/to_v/to_out.0, frozen bf16-stored base weights used in fp32, AdamW on the adapters.
Written from the spec for timing only; prints one line per size in the same format."""
import math, time, torch

def make(dim, layers, rank):
    g = torch.Generator().manual_seed(1)
    def lin(o, i): return (torch.rand(o, i, generator=g) * 2 - 1) / math.sqrt(i), torch.zeros(o)
    blocks = []
    for _ in range(layers):
        b = {k: lin(*s) for k, s in dict(img_mod=(6*dim, dim), txt_mod=(6*dim, dim), q=(dim, dim), k=(dim, dim), v=(dim, dim),
             aq=(dim, dim), ak=(dim, dim), av=(dim, dim), o=(dim, dim), ao=(dim, dim), f1=(4*dim, dim), f2=(dim, 4*dim),
             t1=(4*dim, dim), t2=(dim, 4*dim)).items()}
        b["lora"] = {n: (torch.empty(rank, dim).uniform_(-1/math.sqrt(dim), 1/math.sqrt(dim)).requires_grad_(),
                         torch.zeros(dim, rank, requires_grad=True)) for n in ("q", "k", "v", "o")}
        blocks.append(b)
    return blocks

def L(b, n, x):
    w, bias = b[n]
    y = x @ w.T + bias
    if n in b["lora"]:
        A, B = b["lora"][n]
        y = y + (x @ A.T) @ B.T
    return y

def step(blocks, x, c, temb, heads):
    dim = x.shape[-1]; hd = dim // heads
    for b in blocks:
        mi = L(b, "img_mod", torch.nn.functional.silu(temb)).chunk(6, -1)
        mt = L(b, "txt_mod", torch.nn.functional.silu(temb)).chunk(6, -1)
        ln = lambda z: torch.nn.functional.layer_norm(z, (dim,), eps=1e-6)
        xm, cm = ln(x) * (1 + mi[1]) + mi[0], ln(c) * (1 + mt[1]) + mt[0]
        q = torch.cat([L(b, "aq", cm), L(b, "q", xm)]); k = torch.cat([L(b, "ak", cm), L(b, "k", xm)]); v = torch.cat([L(b, "av", cm), L(b, "v", xm)])
        sh = lambda z: z.view(-1, heads, hd).transpose(0, 1)
        q, k, v = sh(q), sh(k), sh(v)
        q = q * torch.rsqrt(q.pow(2).mean(-1, keepdim=True) + 1e-6); k = k * torch.rsqrt(k.pow(2).mean(-1, keepdim=True) + 1e-6)
        a = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(hd), -1) @ v
        a = a.transpose(0, 1).reshape(-1, dim)
        T = c.shape[0]
        x = x + mi[2] * L(b, "o", a[T:]); c = c + mt[2] * L(b, "ao", a[:T])
        x = x + mi[5] * L(b, "f2", torch.nn.functional.gelu(L(b, "f1", ln(x) * (1 + mi[4]) + mi[3]), approximate="tanh"))
        c = c + mt[5] * L(b, "t2", torch.nn.functional.gelu(L(b, "t1", ln(c) * (1 + mt[4]) + mt[3]), approximate="tanh"))
    return x

for dim, heads, layers, img, ref, txt in ((256, 4, 4, 256, 0, 32), (512, 8, 8, 1024, 1024, 64)):
    blocks = make(dim, layers, 16)
    params = [p for b in blocks for ab in b["lora"].values() for p in ab]
    opt = torch.optim.AdamW(params, lr=1e-4)
    x, c, temb = torch.randn(img + ref, dim), torch.randn(txt, dim), torch.randn(dim)
    times = []
    for s in range(4 if dim > 256 else 6):
        t0 = time.perf_counter()
        opt.zero_grad(); step(blocks, x, c, temb, heads).square().mean().backward(); opt.step()
        if s: times.append(1e3 * (time.perf_counter() - t0))
    times.sort()
    print(f"pytorch train-step dim {dim} heads {heads} layers {layers} img {img} ref {ref} txt {txt} rank 16: {times[len(times)//2]:.1f} ms/step")
