#!/usr/bin/env python3
"""bm25s on SciFact: quality and speed, the reference for slm-rag's numbers.

Usage: python3 scripts/bm25s_scifact.py [--data DIR] [--repeats N] [--json]
Needs: pip install "bm25s==0.3.16" PyStemmer numpy

Settings are bm25s' defaults as published: Lucene, k1=1.5, b=0.75, the 33 English stopwords,
PyStemmer English, tokens (?u)\\b\\w\\w+\\b lowercased, title and text as one field, numpy
backend. Metrics are computed like trec_eval (the same definitions as slm_rag::metrics).
Times are medians over --repeats runs:
  index_build_ms      raw text -> searchable index (tokenize + index), comparable to slm-rag
  index_only_ms       BM25.index() on already tokenized text
  single_thread_qps   retrieve(k=100, n_threads=0) on pre-tokenized queries
  end_to_end_qps      query tokenization + retrieve, single thread
  qps_by_threads      retrieve with n_threads=1..N (bm25s' thread pool)
"""
import argparse
import json
import math
import os
import statistics
import time

os.environ.setdefault("DISABLE_TQDM", "1")

import bm25s  # noqa: E402
import numpy as np  # noqa: E402
import Stemmer  # noqa: E402


def load(data):
    corpus = [json.loads(l) for l in open(os.path.join(data, "corpus.jsonl"), encoding="utf-8") if l.strip()]
    qrels = {}
    with open(os.path.join(data, "qrels", "test.tsv"), encoding="utf-8") as f:
        for i, line in enumerate(f):
            if i == 0 and line.startswith("query-id"):
                continue
            q, d, s = line.rstrip("\n").split("\t")
            qrels.setdefault(q, {})[d] = int(s)
    queries = [json.loads(l) for l in open(os.path.join(data, "queries.jsonl"), encoding="utf-8") if l.strip()]
    queries = [q for q in queries if str(q["_id"]) in qrels]
    return corpus, queries, qrels


def ndcg(ranked, judged, k=10):
    dcg = sum(max(judged.get(d, 0), 0) / math.log2(i + 2) for i, d in enumerate(ranked[:k]))
    ideal = sorted((g for g in judged.values() if g > 0), reverse=True)[:k]
    idcg = sum(g / math.log2(i + 2) for i, g in enumerate(ideal))
    return dcg / idcg if idcg else 0.0


def recall(ranked, judged, k=100):
    rel = [d for d, g in judged.items() if g > 0]
    return sum(1 for d in ranked[:k] if judged.get(d, 0) > 0) / len(rel) if rel else 0.0


def mrr(ranked, judged, k=10):
    for i, d in enumerate(ranked[:k]):
        if judged.get(d, 0) > 0:
            return 1.0 / (i + 1)
    return 0.0


def median_time(repeats, fn):
    samples = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t0)
    return statistics.median(samples)


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    default_data = os.environ.get("SLM_SCIFACT_DIR", os.path.join(here, "..", "..", "shared", "data", "scifact"))
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=default_data)
    ap.add_argument("--repeats", type=int, default=20)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()

    corpus, queries, qrels = load(args.data)
    texts = [d.get("title", "") + " " + d["text"] for d in corpus]
    doc_ids = np.array([str(d["_id"]) for d in corpus])
    query_texts = [q["text"] for q in queries]
    stemmer = Stemmer.Stemmer("english")

    def tokenize(x):
        return bm25s.tokenize(x, stopwords="en", stemmer=stemmer, show_progress=False)

    def build():
        retriever = bm25s.BM25(k1=1.5, b=0.75, method="lucene")
        retriever.index(tokenize(texts), show_progress=False)
        return retriever

    corpus_tokens = tokenize(texts)

    def index_only():
        bm25s.BM25(k1=1.5, b=0.75, method="lucene").index(corpus_tokens, show_progress=False)

    build_s = median_time(args.repeats, build)
    index_only_s = median_time(args.repeats, index_only)
    retriever = build()
    query_tokens = tokenize(query_texts)

    def retrieve(n_threads=0):
        return retriever.retrieve(query_tokens, k=100, show_progress=False, n_threads=n_threads)

    results, _scores = retrieve()
    run = {str(q["_id"]): list(doc_ids[results[i]]) for i, q in enumerate(queries)}
    judged = [q for q in run if any(g > 0 for g in qrels[q].values())]
    report = {
        "bm25s_version": bm25s.__version__ if hasattr(bm25s, "__version__") else "unknown",
        "documents": len(texts),
        "queries": len(queries),
        "repeats": args.repeats,
        "ndcg@10": round(sum(ndcg(run[q], qrels[q]) for q in judged) / len(judged), 5),
        "recall@100": round(sum(recall(run[q], qrels[q]) for q in judged) / len(judged), 5),
        "mrr@10": round(sum(mrr(run[q], qrels[q]) for q in judged) / len(judged), 5),
        "index_build_ms": round(build_s * 1e3, 3),
        "index_only_ms": round(index_only_s * 1e3, 3),
        "single_thread_qps": round(len(queries) / median_time(args.repeats, retrieve)),
        "end_to_end_qps": round(
            len(queries) / median_time(args.repeats, lambda: retriever.retrieve(tokenize(query_texts), k=100, show_progress=False))
        ),
        "qps_by_threads": {
            str(n): round(len(queries) / median_time(args.repeats, lambda: retrieve(n))) for n in range(1, (os.cpu_count() or 1) + 1)
        },
    }
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        for k, v in report.items():
            print(f"{k:>18}: {v}")


if __name__ == "__main__":
    main()
