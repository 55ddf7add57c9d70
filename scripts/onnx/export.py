#!/usr/bin/env python3
"""Writes llama-architecture decoders as ONNX model folders in onnxruntime-genai's layout.

Torch-free: numpy, gguf, onnx and onnxruntime only.

    export.py tiny OUT_DIR [--seed N]
        a tiny random-weight llama decoder (2 layers, hidden 64, a byte-level BPE vocabulary
        of a few hundred tokens, ChatML template), written in about a second and identical for
        the same seed: the test model of crates/slm-onnx.

    export.py smollm2 GGUF OUT_DIR [--precision fp32|int4]
        SmolLM2-135M-Instruct converted from its GGUF: weights dequantized to float32 (GGUF's
        permutation of the Q/K rows undone, tied embeddings), RMSNorm epsilon and rope theta
        from the GGUF's metadata, `tokenizer.json` built from the GGUF's vocabulary and merges
        (GPT-2 byte-level BPE), the GGUF's chat template. `int4` turns every MatMul (the lm_head
        included) into com.microsoft MatMulNBits (4 bits, block 32, round to nearest).

The folder holds `genai_config.json`, `model.onnx`, `tokenizer.json` and
`tokenizer_config.json`. The graph's inputs are `input_ids`, `attention_mask`,
`position_ids` and `past_key_values.N.key/value` ([batch, kv_heads, past, head_size]); its
outputs `logits` ([batch, seq, vocab]) and `present.N.key/value`. Only standard ONNX ops
(opset 18) are used, besides MatMulNBits in the int4 variant.
"""

import argparse
import json
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 18

CHATML_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)


# --- byte-level BPE tokenizer.json ------------------------------------------------------------


def bytes_to_unicode():
    """GPT-2's map from bytes to printable characters."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, [chr(c) for c in cs]))


def tokenizer_json(tokens, merges, special_ids, digits_individually):
    """A Hugging Face `tokenizer.json` for a GPT-2-style byte-level BPE vocabulary."""
    vocab = {t: i for i, t in enumerate(tokens)}
    pre = [{"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True}]
    if digits_individually:
        pre.insert(0, {"type": "Digits", "individual_digits": True})
    return {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": [
            {
                "id": i,
                "content": tokens[i],
                "single_word": False,
                "lstrip": False,
                "rstrip": False,
                "normalized": False,
                "special": True,
            }
            for i in special_ids
        ],
        "normalizer": None,
        "pre_tokenizer": {"type": "Sequence", "pretokenizers": pre},
        "post_processor": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": False, "use_regex": True},
        "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True},
        "model": {
            "type": "BPE",
            "dropout": None,
            "unk_token": None,
            "continuing_subword_prefix": None,
            "end_of_word_suffix": None,
            "fuse_unk": False,
            "byte_fallback": False,
            "ignore_merges": False,
            "vocab": vocab,
            "merges": merges,
        },
    }


TINY_TEXT = (
    "the quick brown fox jumps over the lazy dog. hello world! the answer is yes, the answer is no. "
    "json objects have keys and values: {\"name\": \"value\", \"count\": 42}. "
    "this is a test of the tiny tokenizer, and then there is another sentence with the word the."
)


def tiny_vocabulary(n_merges=64):
    """256 byte tokens, `n_merges` BPE merges learned from a short text, 3 special tokens."""
    b2u = bytes_to_unicode()
    tokens = [b2u[b] for b in range(256)]
    words = [[b2u[b] for b in (" " + w if i else w).encode()] for i, w in enumerate(TINY_TEXT.split(" "))]
    merges = []
    for _ in range(n_merges):
        counts = {}
        for w in words:
            for a, b in zip(w, w[1:]):
                counts[(a, b)] = counts.get((a, b), 0) + 1
        if not counts:
            break
        best = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[0][0]
        merges.append(f"{best[0]} {best[1]}")
        tokens.append(best[0] + best[1])
        new_words = []
        for w in words:
            out, i = [], 0
            while i < len(w):
                if i + 1 < len(w) and (w[i], w[i + 1]) == best:
                    out.append(w[i] + w[i + 1])
                    i += 2
                else:
                    out.append(w[i])
                    i += 1
            new_words.append(out)
        words = new_words
    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    special_ids = list(range(len(tokens), len(tokens) + len(specials)))
    tokens += specials
    return tokens, merges, special_ids


# --- the decoder graph ------------------------------------------------------------------------


class Graph:
    def __init__(self):
        self.nodes, self.inits, self.n = [], [], 0

    def name(self, base):
        self.n += 1
        return f"{base}_{self.n}"

    def init(self, name, array):
        self.inits.append(numpy_helper.from_array(np.ascontiguousarray(array), name))
        return name

    def const(self, array, base="c"):
        return self.init(self.name(base), np.asarray(array))

    def op(self, op_type, inputs, n_out=1, out=None, domain="", **attrs):
        outs = out if out is not None else [self.name(op_type.lower()) for _ in range(n_out)]
        if isinstance(outs, str):
            outs = [outs]
        self.nodes.append(helper.make_node(op_type, inputs, outs, name=self.name(op_type), domain=domain, **attrs))
        return outs[0] if len(outs) == 1 else outs


def rms_norm(g, x, weight, eps):
    sq = g.op("Mul", [x, x])
    mean = g.op("ReduceMean", [sq, g.const(np.array([-1], np.int64))], keepdims=1)
    inv = g.op("Reciprocal", [g.op("Sqrt", [g.op("Add", [mean, g.const(np.array(eps, np.float32))])])])
    return g.op("Mul", [g.op("Mul", [x, inv]), weight])


def rope(g, x, cos, sin, half):
    """Hugging Face llama's rotate-half rotary embedding of x [B, heads, S, D]."""
    x1, x2 = g.op("Split", [x, g.const(np.array([half, half], np.int64))], n_out=2, axis=-1)
    a = g.op("Sub", [g.op("Mul", [x1, cos]), g.op("Mul", [x2, sin])])
    b = g.op("Add", [g.op("Mul", [x2, cos]), g.op("Mul", [x1, sin])])
    return g.op("Concat", [a, b], axis=-1)


def build_decoder(cfg, weights, int4_lm_head):
    """The ONNX ModelProto of a llama decoder. `weights` holds float32 numpy arrays in Hugging
    Face's layout ([out, in] linear weights, Q/K rows in rotate-half order)."""
    L, H = cfg["num_hidden_layers"], cfg["hidden_size"]
    nh, nkv, hd = cfg["num_attention_heads"], cfg["num_key_value_heads"], cfg["head_size"]
    V, eps, theta, ctx = cfg["vocab_size"], cfg["rms_norm_eps"], cfg["rope_theta"], cfg["context_length"]
    rep, half = nh // nkv, hd // 2
    g = Graph()
    i64 = lambda *v: g.const(np.array(v, np.int64))  # noqa: E731

    inputs = [
        helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch_size", "sequence_length"]),
        helper.make_tensor_value_info("attention_mask", TensorProto.INT64, ["batch_size", "total_sequence_length"]),
        helper.make_tensor_value_info("position_ids", TensorProto.INT64, ["batch_size", "sequence_length"]),
    ]
    outputs = [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch_size", "sequence_length", V])]
    for i in range(L):
        for kind in ("key", "value"):
            inputs.append(
                helper.make_tensor_value_info(
                    f"past_key_values.{i}.{kind}", TensorProto.FLOAT, ["batch_size", nkv, "past_sequence_length", hd]
                )
            )
            outputs.append(
                helper.make_tensor_value_info(
                    f"present.{i}.{kind}", TensorProto.FLOAT, ["batch_size", nkv, "total_sequence_length", hd]
                )
            )

    embed = g.init("model.embed_tokens.weight", weights["embed"])
    x = g.op("Gather", [embed, "input_ids"], axis=0)

    # Rotary tables gathered at the positions: [B, 1, S, D/2].
    inv_freq = 1.0 / (theta ** (np.arange(0, hd, 2, dtype=np.float64) / hd))
    angles = np.outer(np.arange(ctx, dtype=np.float64), inv_freq)
    cos_t = g.init("rope.cos", np.cos(angles).astype(np.float32))
    sin_t = g.init("rope.sin", np.sin(angles).astype(np.float32))
    cos = g.op("Unsqueeze", [g.op("Gather", [cos_t, "position_ids"], axis=0), i64(1)])
    sin = g.op("Unsqueeze", [g.op("Gather", [sin_t, "position_ids"], axis=0), i64(1)])

    # Which keys each query sees: causal (key index <= the query's index in the whole
    # sequence) and not padding; shaped [B, 1, 1, S, T] for the grouped scores.
    seq = g.op("Gather", [g.op("Shape", ["input_ids"]), i64(1)], axis=0)
    total = g.op("Gather", [g.op("Shape", ["attention_mask"]), i64(1)], axis=0)
    q_idx = g.op("Range", [g.op("Sub", [total, seq]), total, i64(1)])
    k_idx = g.op("Range", [i64(0), total, i64(1)])
    causal = g.op("LessOrEqual", [g.op("Unsqueeze", [k_idx, i64(0)]), g.op("Unsqueeze", [q_idx, i64(1)])])
    pad = g.op("Cast", [g.op("Unsqueeze", ["attention_mask", i64(1, 2, 3)])], to=TensorProto.BOOL)
    allowed = g.op("And", [causal, pad])
    neg = g.const(np.array(-3.0e38, np.float32))
    scale = g.const(np.array(1.0 / np.sqrt(hd), np.float32))

    def linear(x, w, name):
        return g.op("MatMul", [x, g.init(name, np.ascontiguousarray(w.T))])

    for i in range(L):
        p = f"model.layers.{i}"
        h = rms_norm(g, x, g.init(f"{p}.input_layernorm.weight", weights[f"{i}.attn_norm"]), eps)
        q = linear(h, weights[f"{i}.q"], f"{p}.self_attn.q_proj.weight_t")
        k = linear(h, weights[f"{i}.k"], f"{p}.self_attn.k_proj.weight_t")
        v = linear(h, weights[f"{i}.v"], f"{p}.self_attn.v_proj.weight_t")
        q = g.op("Transpose", [g.op("Reshape", [q, i64(0, 0, nh, hd)])], perm=[0, 2, 1, 3])
        k = g.op("Transpose", [g.op("Reshape", [k, i64(0, 0, nkv, hd)])], perm=[0, 2, 1, 3])
        v = g.op("Transpose", [g.op("Reshape", [v, i64(0, 0, nkv, hd)])], perm=[0, 2, 1, 3])
        q = rope(g, q, cos, sin, half)
        k = rope(g, k, cos, sin, half)
        k_all = g.op("Concat", [f"past_key_values.{i}.key", k], axis=2, out=f"present.{i}.key")
        v_all = g.op("Concat", [f"past_key_values.{i}.value", v], axis=2, out=f"present.{i}.value")
        # Grouped-query attention without copying keys: queries [B, kv, rep, S, D] against
        # keys [B, kv, 1, T, D] (MatMul broadcasts the group axis).
        qg = g.op("Reshape", [q, i64(0, nkv, rep, -1, hd)])
        kt = g.op("Unsqueeze", [g.op("Transpose", [k_all], perm=[0, 1, 3, 2]), i64(2)])
        scores = g.op("Mul", [g.op("MatMul", [qg, kt]), scale])
        scores = g.op("Where", [allowed, scores, neg])
        probs = g.op("Softmax", [scores], axis=-1)
        att = g.op("MatMul", [probs, g.op("Unsqueeze", [v_all, i64(2)])])
        att = g.op("Reshape", [att, i64(0, nh, -1, hd)])
        att = g.op("Reshape", [g.op("Transpose", [att], perm=[0, 2, 1, 3]), i64(0, 0, nh * hd)])
        x = g.op("Add", [x, linear(att, weights[f"{i}.o"], f"{p}.self_attn.o_proj.weight_t")])

        h = rms_norm(g, x, g.init(f"{p}.post_attention_layernorm.weight", weights[f"{i}.ffn_norm"]), eps)
        gate = linear(h, weights[f"{i}.gate"], f"{p}.mlp.gate_proj.weight_t")
        up = linear(h, weights[f"{i}.up"], f"{p}.mlp.up_proj.weight_t")
        act = g.op("Mul", [g.op("Mul", [gate, g.op("Sigmoid", [gate])]), up])
        x = g.op("Add", [x, linear(act, weights[f"{i}.down"], f"{p}.mlp.down_proj.weight_t")])

    x = rms_norm(g, x, g.init("model.norm.weight", weights["norm"]), eps)
    if int4_lm_head:
        # A MatMul of its own (the quantizer turns it into MatMulNBits): the embedding table
        # stays float32 for the Gather.
        g.op("MatMul", [x, g.init("lm_head.weight_t", np.ascontiguousarray(weights["embed"].T))], out="logits")
    else:
        # Tied embeddings: one table for the Gather and the lm_head (Gemm with transB).
        flat = g.op("Reshape", [x, i64(-1, H)])
        logits2d = g.op("Gemm", [flat, embed], transB=1)
        shape = g.op("Concat", [g.op("Slice", [g.op("Shape", [x]), i64(0), i64(2)]), i64(V)], axis=0)
        g.op("Reshape", [logits2d, shape], out="logits")

    graph = helper.make_graph(g.nodes, "llama_decoder", inputs, outputs, g.inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="slm-export")
    model.ir_version = 9
    return model


# --- folders ----------------------------------------------------------------------------------


def write_folder(out_dir, cfg, model, tokenizer, chat_template, bos, eos, eos_ids, pad_id, precision):
    os.makedirs(out_dir, exist_ok=True)
    path = os.path.join(out_dir, "model.onnx")
    if precision == "int4":
        from onnxruntime.quantization.matmul_nbits_quantizer import (
            DefaultWeightOnlyQuantConfig,
            MatMulNBitsQuantizer,
        )

        import logging

        logging.getLogger("onnxruntime.quantization.matmul_nbits_quantizer").setLevel(logging.WARNING)
        config = DefaultWeightOnlyQuantConfig(block_size=32, is_symmetric=False, accuracy_level=4)
        quant = MatMulNBitsQuantizer(model, algo_config=config)
        quant.process()
        model = quant.model.model
    data = "model.onnx.data"
    for f in (path, os.path.join(out_dir, data)):
        if os.path.exists(f):
            os.remove(f)
    if model.ByteSize() > 1 << 30:
        onnx.save_model(model, path, save_as_external_data=True, location=data, size_threshold=1024)
    else:
        onnx.save_model(model, path)
    genai = {
        "model": {
            "bos_token_id": bos,
            "context_length": cfg["context_length"],
            "decoder": {
                "session_options": {"log_id": "onnxruntime-genai", "provider_options": []},
                "filename": "model.onnx",
                "head_size": cfg["head_size"],
                "hidden_size": cfg["hidden_size"],
                "inputs": {
                    "input_ids": "input_ids",
                    "attention_mask": "attention_mask",
                    "position_ids": "position_ids",
                    "past_key_names": "past_key_values.%d.key",
                    "past_value_names": "past_key_values.%d.value",
                },
                "outputs": {
                    "logits": "logits",
                    "present_key_names": "present.%d.key",
                    "present_value_names": "present.%d.value",
                },
                "num_attention_heads": cfg["num_attention_heads"],
                "num_hidden_layers": cfg["num_hidden_layers"],
                "num_key_value_heads": cfg["num_key_value_heads"],
            },
            "eos_token_id": eos_ids,
            "pad_token_id": pad_id,
            "type": "llama",
            "vocab_size": cfg["vocab_size"],
        },
        "search": {
            "do_sample": False,
            "max_length": cfg["context_length"],
            "num_beams": 1,
            "temperature": 1.0,
            "top_k": 1,
            "top_p": 1.0,
        },
    }
    with open(os.path.join(out_dir, "genai_config.json"), "w") as f:
        json.dump(genai, f, indent=2)
    with open(os.path.join(out_dir, "tokenizer.json"), "w", encoding="utf-8") as f:
        json.dump(tokenizer, f, ensure_ascii=False)
    tok_cfg = {
        "add_bos_token": False,
        "bos_token": bos and tokenizer_token(tokenizer, bos),
        "eos_token": eos,
        "pad_token": tokenizer_token(tokenizer, pad_id),
        "unk_token": None,
        "chat_template": chat_template,
        "model_max_length": cfg["context_length"],
        "clean_up_tokenization_spaces": False,
        "tokenizer_class": "GPT2Tokenizer",
    }
    with open(os.path.join(out_dir, "tokenizer_config.json"), "w", encoding="utf-8") as f:
        json.dump(tok_cfg, f, indent=2, ensure_ascii=False)


def tokenizer_token(tokenizer, token_id):
    for t in tokenizer["added_tokens"]:
        if t["id"] == token_id:
            return t["content"]
    for t, i in tokenizer["model"]["vocab"].items():
        if i == token_id:
            return t
    return None


def tiny(out_dir, seed):
    tokens, merges, special_ids = tiny_vocabulary()
    rng = np.random.default_rng(seed)
    cfg = dict(
        num_hidden_layers=2,
        hidden_size=64,
        num_attention_heads=4,
        num_key_value_heads=2,
        head_size=16,
        intermediate_size=128,
        vocab_size=len(tokens),
        rms_norm_eps=1e-5,
        rope_theta=10000.0,
        context_length=256,
    )
    H, F, V = cfg["hidden_size"], cfg["intermediate_size"], cfg["vocab_size"]
    kv = cfg["num_key_value_heads"] * cfg["head_size"]

    def w(*shape, scale=0.2):
        return (rng.standard_normal(shape) * scale).astype(np.float32)

    weights = {"embed": w(V, H, scale=1.0), "norm": (1 + w(H, scale=0.1))}
    for i in range(cfg["num_hidden_layers"]):
        weights.update(
            {
                f"{i}.attn_norm": 1 + w(H, scale=0.1),
                f"{i}.ffn_norm": 1 + w(H, scale=0.1),
                f"{i}.q": w(H, H),
                f"{i}.k": w(kv, H),
                f"{i}.v": w(kv, H),
                f"{i}.o": w(H, H),
                f"{i}.gate": w(F, H),
                f"{i}.up": w(F, H),
                f"{i}.down": w(H, F),
            }
        )
    model = build_decoder(cfg, weights, int4_lm_head=False)
    tok = tokenizer_json(tokens, merges, special_ids, digits_individually=False)
    eos_id = special_ids[2]
    write_folder(out_dir, cfg, model, tok, CHATML_TEMPLATE, special_ids[0], "<|im_end|>", [eos_id], special_ids[0], "fp32")


def unpermute(w, n_head):
    """Undoes convert_hf_to_gguf.py's permutation of llama's Q/K rows (rotate-half order back
    from GGUF's interleaved pairs)."""
    rows = w.shape[0]
    return w.reshape(n_head, rows // n_head // 2, 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def smollm2(gguf_path, out_dir, precision):
    import gguf

    r = gguf.GGUFReader(gguf_path)
    meta = {k: f.contents() for k, f in r.fields.items() if not k.startswith("tokenizer.ggml.")}
    arch = meta["general.architecture"]
    if arch != "llama":
        sys.exit(f"export.py: {gguf_path} is a {arch} model, not llama")

    def m(key):
        return meta[f"{arch}.{key}"]

    nh, nkv, H = m("attention.head_count"), m("attention.head_count_kv"), m("embedding_length")
    cfg = dict(
        num_hidden_layers=m("block_count"),
        hidden_size=H,
        num_attention_heads=nh,
        num_key_value_heads=nkv,
        head_size=H // nh,
        intermediate_size=m("feed_forward_length"),
        rms_norm_eps=float(m("attention.layer_norm_rms_epsilon")),
        rope_theta=float(m("rope.freq_base")),
        context_length=m("context_length"),
    )
    tensors = {t.name: t for t in r.tensors}

    def get(name):
        t = tensors[name]
        return np.asarray(gguf.quants.dequantize(t.data, t.tensor_type), dtype=np.float32).reshape(
            [int(d) for d in reversed(t.shape)]
        )

    weights = {"embed": get("token_embd.weight"), "norm": get("output_norm.weight")}
    if "output.weight" in tensors:
        sys.exit("export.py: untied output.weight is not supported")
    for i in range(cfg["num_hidden_layers"]):
        b = f"blk.{i}."
        weights.update(
            {
                f"{i}.attn_norm": get(b + "attn_norm.weight"),
                f"{i}.ffn_norm": get(b + "ffn_norm.weight"),
                f"{i}.q": unpermute(get(b + "attn_q.weight"), nh),
                f"{i}.k": unpermute(get(b + "attn_k.weight"), nkv),
                f"{i}.v": get(b + "attn_v.weight"),
                f"{i}.o": get(b + "attn_output.weight"),
                f"{i}.gate": get(b + "ffn_gate.weight"),
                f"{i}.up": get(b + "ffn_up.weight"),
                f"{i}.down": get(b + "ffn_down.weight"),
            }
        )
    cfg["vocab_size"] = weights["embed"].shape[0]

    f = r.fields
    tokens = [str(bytes(f["tokenizer.ggml.tokens"].parts[i]), "utf-8") for i in f["tokenizer.ggml.tokens"].data]
    merges = [str(bytes(f["tokenizer.ggml.merges"].parts[i]), "utf-8") for i in f["tokenizer.ggml.merges"].data]
    types = [int(f["tokenizer.ggml.token_type"].parts[i][0]) for i in f["tokenizer.ggml.token_type"].data]
    special_ids = [i for i, t in enumerate(types) if t == 3]  # CONTROL
    bos = int(f["tokenizer.ggml.bos_token_id"].contents())
    eos_id = int(f["tokenizer.ggml.eos_token_id"].contents())
    pad = int(f["tokenizer.ggml.padding_token_id"].contents()) if "tokenizer.ggml.padding_token_id" in f else eos_id
    template = f["tokenizer.chat_template"].contents()
    pre = f["tokenizer.ggml.pre"].contents() if "tokenizer.ggml.pre" in f else "default"
    tok = tokenizer_json(tokens, merges, special_ids, digits_individually=pre in ("smollm", "llama3"))
    eos_ids = [eos_id]
    im_end = tokens.index("<|im_end|>") if "<|im_end|>" in tokens else None
    if im_end is not None and im_end not in eos_ids:
        eos_ids.append(im_end)
    model = build_decoder(cfg, weights, int4_lm_head=precision == "int4")
    write_folder(out_dir, cfg, model, tok, template, bos, tokens[eos_id], eos_ids, pad, precision)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("tiny")
    t.add_argument("out_dir")
    t.add_argument("--seed", type=int, default=0)
    s = sub.add_parser("smollm2")
    s.add_argument("gguf")
    s.add_argument("out_dir")
    s.add_argument("--precision", choices=["fp32", "int4"], default="fp32")
    a = p.parse_args()
    if a.cmd == "tiny":
        tiny(a.out_dir, a.seed)
    else:
        smollm2(a.gguf, a.out_dir, a.precision)


if __name__ == "__main__":
    main()
