#!/usr/bin/env python3
"""Writes the greedy reference of crates/slm-onnx's SmolLM2 test: llama.cpp's first 32 greedy
tokens (argmax of the logits, no penalties) on 10 prompts, from the Q4_1 GGUF through
llama-cpp-python, each prompt rendered with the GGUF's own chat template.

    reference_tokens.py GGUF F32_GGUF OUT_JSON

F32_GGUF is GGUF with every tensor dequantized to float32 (`gguf_to_f32.py GGUF F32_GGUF`):
the same weights the fp32 ONNX export holds, run by llama.cpp with float32 activations. Its
greedy tokens (`greedy_ids_f32`) are what the fp32 export must reproduce; the Q4_1 ones
(`greedy_ids`) are what the quantized model as shipped answers.

Besides the token ids it stores, per step, the margin between llama.cpp's best and second-best
logits: where that margin is tiny, the ONNX export (float32 weights dequantized from the same
Q4_1 blocks, float32 activations) may pick the other token without either being wrong.
"""

import json
import sys

import jinja2
import numpy as np
from llama_cpp import Llama

PROMPTS = [
    "What is the capital of France?",
    "Write a haiku about the sea.",
    "List three primary colors.",
    "Explain what a CPU does in one sentence.",
    "Translate 'good morning' into Spanish.",
    "What is 12 plus 7?",
    "Give me a name for a pet cat.",
    "Why is the sky blue?",
    "Write one sentence about Rust, the programming language.",
    "Say hello.",
]
N_TOKENS = 32


def greedy(llm, tokens, stops):
    llm.reset()
    llm.eval(tokens)
    out_ids, margins = [], []
    for _ in range(N_TOKENS):
        logits = np.array(llm.scores[llm.n_tokens - 1], dtype=np.float32)
        top2 = np.argsort(logits)[-2:]
        tok = int(top2[1])
        out_ids.append(tok)
        margins.append(round(float(logits[top2[1]] - logits[top2[0]]), 4))
        if tok in stops:
            break
        llm.eval([tok])
    return out_ids, margins


def main():
    gguf_path, f32_path, out = sys.argv[1:4]
    # logits_all: llama-cpp-python keeps every position's logits in `scores` only then.
    llm = Llama(model_path=gguf_path, n_ctx=512, n_threads=2, n_batch=512, logits_all=True, verbose=False)
    f32 = Llama(model_path=f32_path, n_ctx=512, n_threads=2, n_batch=512, logits_all=True, verbose=False)
    meta = llm.metadata
    template = jinja2.Environment(loader=jinja2.BaseLoader()).from_string(meta["tokenizer.chat_template"])
    eos = int(meta["tokenizer.ggml.eos_token_id"])
    im_end = llm.tokenize(b"<|im_end|>", add_bos=False, special=True)
    stops = {eos, *im_end}
    cases = []
    for prompt in PROMPTS:
        text = template.render(messages=[{"role": "user", "content": prompt}], add_generation_prompt=True)
        tokens = llm.tokenize(text.encode(), add_bos=False, special=True)
        ids, margins = greedy(llm, tokens, stops)
        ids_f32, margins_f32 = greedy(f32, tokens, stops)
        cases.append(
            {
                "prompt": prompt,
                "rendered": text,
                "prompt_ids": tokens,
                "greedy_ids": ids,
                "greedy_text": llm.detokenize(ids).decode("utf-8", "replace"),
                "top1_top2_margin": margins,
                "greedy_ids_f32": ids_f32,
                "greedy_text_f32": llm.detokenize(ids_f32).decode("utf-8", "replace"),
                "top1_top2_margin_f32": margins_f32,
            }
        )
    doc = {
        "generator": "scripts/onnx/reference_tokens.py (F32 GGUF from scripts/onnx/gguf_to_f32.py)",
        "model": "SmolLM2-135M-Instruct.Q4_1.gguf (sha256 b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53)",
        "engine": "llama-cpp-python " + __import__("llama_cpp").__version__ + ", 2 threads, greedy argmax, no penalties",
        "n_tokens": N_TOKENS,
        "cases": cases,
    }
    with open(out, "w", encoding="utf-8") as f:
        json.dump(doc, f, indent=1, ensure_ascii=False)
        f.write("\n")


if __name__ == "__main__":
    main()
