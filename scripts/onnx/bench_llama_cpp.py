#!/usr/bin/env python3
"""llama.cpp's side of crates/slm-onnx/benches/onnx.rs: SmolLM2-135M-Instruct Q4_1 through
llama-cpp-python, n_threads=2, the same prompt (crates/slm-onnx/benches/prompt.txt in the
GGUF's chat template). Prints the medians of prompt processing (pp, tokens/s over the whole
prompt) and decode (tg, tokens/s over 64 greedy tokens after the prompt).

    bench_llama_cpp.py GGUF [RUNS]
"""

import os
import statistics
import sys
import time

import jinja2
from llama_cpp import Llama

HERE = os.path.dirname(os.path.abspath(__file__))
PROMPT = open(os.path.join(HERE, "../../crates/slm-onnx/benches/prompt.txt"), encoding="utf-8").read().strip()
TG = 64
FEED = 504  # "The"


def main():
    gguf_path = sys.argv[1]
    runs = int(sys.argv[2]) if len(sys.argv) > 2 else 10
    llm = Llama(model_path=gguf_path, n_ctx=1024, n_threads=2, n_threads_batch=2, n_batch=512, verbose=False)
    template = jinja2.Environment(loader=jinja2.BaseLoader()).from_string(llm.metadata["tokenizer.chat_template"])
    text = template.render(messages=[{"role": "user", "content": PROMPT}], add_generation_prompt=True)
    tokens = llm.tokenize(text.encode(), add_bos=False, special=True)
    pp, tg = [], []
    for _ in range(runs + 1):  # the first run warms up
        llm.reset()
        t = time.perf_counter()
        llm.eval(tokens)
        pp.append(len(tokens) / (time.perf_counter() - t))
        t = time.perf_counter()
        for _ in range(TG):
            # Which token is fed does not change the cost of a step; without logits_all,
            # llama-cpp-python does not keep the logits where `scores` reads them.
            llm.eval([FEED])
        tg.append(TG / (time.perf_counter() - t))
    print(f"llama-cpp-python Q4_1, 2 threads: pp{len(tokens)} median {statistics.median(pp[1:]):.1f} t/s, "
          f"tg{TG} median {statistics.median(tg[1:]):.1f} t/s ({runs} runs)")


if __name__ == "__main__":
    main()
