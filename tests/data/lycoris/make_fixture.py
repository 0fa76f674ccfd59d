#!/usr/bin/python3
"""Writes the LyCORIS fixture the C tests load (tests/unit/test_lycoris_file.c).

Run once with Debian's interpreter and numpy (apt-get install python3-numpy):
    /usr/bin/python3 tests/data/lycoris/make_fixture.py tests/data/lycoris
It writes two safetensors files:
  lokr_reference.safetensors  adapter weights for five linear layers, keyed the way LyCORIS saves a
                              network ("lycoris_<module path with dots as underscores>.<tensor>"):
                              four LoKr modules in the forms LyCORIS creates (both Kronecker factors
                              full; W2 as a rank-2 pair; W1 and W2 both as rank-1 pairs; one stored
                              as float16) and one LoHa module, each with its "alpha" scalar;
  lokr_expected.safetensors   the dense weight update of each module, "<module path>.delta" [out, in],
                              computed here from the definitions below in float64.

The definitions implemented here, independently of the C code, follow LyCORIS' documentation and
its module sources:
  - factorization(dim, factor): the pair (m, n), m <= n, m * n = dim; (factor, dim / factor) when
    factor divides dim, else the divisor pair reached by walking m upwards from 1 while m <= factor
    (factor -1 meaning "no limit") and m < n;
  - LoKr: delta = scale * kron(W1, W2), W1 = lokr_w1 or lokr_w1_a @ lokr_w1_b (shape
    [out_l, in_m]), W2 = lokr_w2 or lokr_w2_a @ lokr_w2_b (shape [out_k, in_n]);
  - LoHa: delta = scale * (hada_w1_a @ hada_w1_b) * (hada_w2_a @ hada_w2_b) (element-wise product);
  - scale as a loader applies a file: alpha / rank, the rank being the inner size of the factored
    pair (W2's when W2 is factored, else W1's); 1 when no factor is a pair (alpha is then unused).
"""
import json
import struct
import sys

import numpy as np


def factorization(dim, factor=-1):
    if factor > 0 and dim % factor == 0:
        return tuple(sorted((factor, dim // factor)))
    limit = dim if factor < 0 else factor
    m, n = 1, dim
    while m < n:
        cand = m + 1
        while dim % cand:
            cand += 1
        if cand > limit:
            break
        m, n = cand, dim // cand
    return tuple(sorted((m, n)))


def write_safetensors(path, tensors, metadata):
    """tensors: name -> (dtype string, numpy array already in that dtype)"""
    header = {"__metadata__": metadata}
    blobs, offset = [], 0
    for name in sorted(tensors):
        dtype, arr = tensors[name]
        raw = np.ascontiguousarray(arr).tobytes()
        header[name] = {"dtype": dtype, "shape": list(arr.shape), "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for b in blobs:
            f.write(b)


def main(out_dir):
    rng = np.random.default_rng(20240521)
    weights, expected = {}, {}

    def noise(*shape):
        return rng.standard_normal(shape).astype(np.float32) * np.float32(0.5)

    def lokr(module, out_dim, in_dim, factor, w1_rank, w2_rank, alpha, half=False):
        out_l, out_k = factorization(out_dim, factor)
        in_m, in_n = factorization(in_dim, factor)
        key = "lycoris_" + module.replace(".", "_")
        parts = {}
        if w1_rank:
            parts["lokr_w1_a"], parts["lokr_w1_b"] = noise(out_l, w1_rank), noise(w1_rank, in_m)
            w1 = parts["lokr_w1_a"].astype(np.float64) @ parts["lokr_w1_b"].astype(np.float64)
        else:
            parts["lokr_w1"] = noise(out_l, in_m)
            w1 = parts["lokr_w1"].astype(np.float64)
        if w2_rank:
            parts["lokr_w2_a"], parts["lokr_w2_b"] = noise(out_k, w2_rank), noise(w2_rank, in_n)
            w2 = parts["lokr_w2_a"].astype(np.float64) @ parts["lokr_w2_b"].astype(np.float64)
        else:
            parts["lokr_w2"] = noise(out_k, in_n)
            w2 = parts["lokr_w2"].astype(np.float64)
        if half:   # the file stores float16: the delta is that of the stored values
            parts = {k: v.astype(np.float16) for k, v in parts.items()}
            w1 = (parts["lokr_w1"] if "lokr_w1" in parts else parts["lokr_w1_a"].astype(np.float64) @ parts["lokr_w1_b"]).astype(np.float64)
            w2 = (parts["lokr_w2"] if "lokr_w2" in parts else parts["lokr_w2_a"].astype(np.float64) @ parts["lokr_w2_b"]).astype(np.float64)
        rank = w2_rank or w1_rank
        scale = alpha / rank if rank else 1.0
        for k, v in parts.items():
            weights[f"{key}.{k}"] = ("F16" if half else "F32", v)
        weights[f"{key}.alpha"] = ("F16" if half else "F32", np.array(alpha, dtype=np.float16 if half else np.float32))
        delta = scale * np.kron(w1, w2)
        assert delta.shape == (out_dim, in_dim)
        expected[f"{module}.delta"] = ("F32", delta.astype(np.float32))

    def loha(module, out_dim, in_dim, rank, alpha):
        key = "lycoris_" + module.replace(".", "_")
        a1, b1, a2, b2 = noise(out_dim, rank), noise(rank, in_dim), noise(out_dim, rank), noise(rank, in_dim)
        for name, v in (("hada_w1_a", a1), ("hada_w1_b", b1), ("hada_w2_a", a2), ("hada_w2_b", b2)):
            weights[f"{key}.{name}"] = ("F32", v)
        weights[f"{key}.alpha"] = ("F32", np.array(alpha, dtype=np.float32))
        p1 = a1.astype(np.float64) @ b1.astype(np.float64)
        p2 = a2.astype(np.float64) @ b2.astype(np.float64)
        expected[f"{module}.delta"] = ("F32", (alpha / rank * p1 * p2).astype(np.float32))

    # the layer shapes the C test declares: (module, out, in)
    lokr("transformer_blocks.0.attn.to_q", 48, 32, 4, 0, 0, 10000.0)               # both full: alpha unused
    lokr("transformer_blocks.0.ff.net.0.proj", 96, 32, 8, 0, 2, 3.0)               # W2 rank 2: scale 1.5
    lokr("single_transformer_blocks.0.proj_out", 32, 80, -1, 1, 1, 2.0)            # both rank 1: scale 2
    lokr("transformer_blocks.0.attn.to_add_out", 36, 24, 3, 0, 0, 1.0, half=True)  # float16 file values
    loha("transformer_blocks.0.attn.to_k", 48, 32, 2, 1.0)                         # LoHa: scale 0.5
    meta = {"ss_network_module": "lycoris.kohya", "ss_network_args": json.dumps({"algo": "lokr"})}
    write_safetensors(f"{out_dir}/lokr_reference.safetensors", weights, meta)
    write_safetensors(f"{out_dir}/lokr_expected.safetensors", expected, {"made_by": "make_fixture.py"})
    for (d, f) in ((3072, -1), (3072, 16), (12288, 8), (360, -1), (360, 16), (80, -1)):
        print("factorization", d, f, factorization(d, f))


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else ".")
