"""Replays the cases dumped by `examples/bfcl_agreement.rs --dump cases.jsonl` through BFCL's own
AST checker and reports how often its verdict equals slm-eval's.

BFCL's checker is not part of this repository. Take it from the `bfcl-eval` wheel on PyPI
(bfcl_eval/eval_checker/ast_eval/ast_checker.py; ShishirPatil/gorilla has the same layout under
berkeley-function-call-leaderboard/) and run:

    python3 bfcl_crosscheck.py path/to/ast_checker.py cases.jsonl path/to/bfcl_eval/data [--time N]

With `--time N` it also times N passes of BFCL's checker over all cases (the reference for the
`bfcl` criterion benchmark) and prints the median.

The checker, BFCL's Java/JavaScript type converters and its type tables are loaded unmodified
from the same checkout; only the language enum and the model-config table it imports are replaced
by minimal stand-ins (no model's name conversion applies). (Ir)relevance is judged as BFCL's
eval_runner does: irrelevance passes when the output holds no call, relevance when it holds one.
"""
import collections
import enum
import importlib.util
import json
import os
import statistics
import sys
import time
import types


def stub(name, **attrs):
    module = types.ModuleType(name)
    module.__dict__.update(attrs)
    sys.modules[name] = module
    return module


class Language(enum.Enum):
    PYTHON = "python"
    JAVA = "java"
    JAVASCRIPT = "javascript"


class _Config:
    underscore_to_dot = False


class _Configs(dict):
    def __missing__(self, key):
        return _Config()


def load_module(name, path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def load_bfcl(checker_path):
    ast_eval = os.path.dirname(os.path.abspath(checker_path))
    package = os.path.dirname(os.path.dirname(ast_eval))
    for name in ["bfcl_eval", "bfcl_eval.constants", "bfcl_eval.eval_checker",
                 "bfcl_eval.eval_checker.ast_eval", "bfcl_eval.eval_checker.ast_eval.type_convertor"]:
        stub(name)
    stub("bfcl_eval.constants.enums", Language=Language)
    stub("bfcl_eval.constants.model_config", MODEL_CONFIG_MAPPING=_Configs())
    load_module("bfcl_eval.constants.type_mappings", f"{package}/constants/type_mappings.py")
    for name in ["java_type_converter", "js_type_converter"]:
        load_module(f"bfcl_eval.eval_checker.ast_eval.type_convertor.{name}",
                    f"{ast_eval}/type_convertor/{name}.py")
    return load_module("ast_checker", checker_path).ast_checker


def language_of(category):
    if category == "simple_java":
        return Language.JAVA
    if category == "simple_javascript":
        return Language.JAVASCRIPT
    return Language.PYTHON


def is_call_list(output):
    return isinstance(output, list) and all(
        isinstance(item, dict) and len(item) == 1 and isinstance(next(iter(item.values())), dict)
        for item in output
    )


def holds_no_call(output):
    return (not is_call_list(output) or len(output) == 0
            or (len(output) == 1 and len(output[0]) == 0))


def main(checker_path, cases_path, data_dir, *rest):
    ast_checker = load_bfcl(checker_path)
    categories = ["simple_python", "simple_java", "simple_javascript", "multiple", "parallel",
                  "parallel_multiple", "irrelevance", "live_simple", "live_multiple",
                  "live_parallel", "live_parallel_multiple", "live_irrelevance", "live_relevance"]
    functions, answers = {}, {}
    for category in categories:
        if not os.path.exists(f"{data_dir}/BFCL_v4_{category}.json"):
            continue
        with open(f"{data_dir}/BFCL_v4_{category}.json") as f:
            for line in f:
                entry = json.loads(line)
                functions[entry["id"]] = entry["function"]
        if "relevance" not in category:
            with open(f"{data_dir}/possible_answer/BFCL_v4_{category}.json") as f:
                for line in f:
                    answer = json.loads(line)
                    answers[answer["id"]] = answer["ground_truth"]
    totals = collections.defaultdict(lambda: [0, 0])
    differ, crashes = [], []
    with open(cases_path) as f:
        for line in f:
            row = json.loads(line)
            category = row["category"]
            output = [{c["name"]: c["arguments"]} for c in row["calls"]]
            if "irrelevance" in category:
                bfcl = holds_no_call(output)
            elif "relevance" in category:
                bfcl = not holds_no_call(output)
            else:
                try:
                    bfcl = ast_checker(functions[row["id"]], output, answers[row["id"]],
                                       language_of(category), category, "slm-eval-crosscheck")["valid"]
                except Exception as e:  # BFCL itself failed on this input
                    crashes.append((row["id"], row["variant"], repr(e)))
                    bfcl = None
            totals[category][0] += 1
            if bfcl == row["verdict"]:
                totals[category][1] += 1
            else:
                differ.append((row["id"], row["variant"], bfcl, row["verdict"]))
    for category in categories:
        n, same = totals[category]
        if n == 0:
            continue
        print(f"{category:<22} cases {n:6d}  same verdict as BFCL {same:6d}  ({100 * same / max(n, 1):.2f}%)")
    print("different verdicts:", len(differ))
    for d in differ[:50]:
        print("  ", d)
    print("inputs on which BFCL's checker raised:", len(crashes))
    for c in crashes[:20]:
        print("  ", c)
    if rest and rest[0] == "--time":
        time_checker(ast_checker, cases_path, functions, answers, int(rest[1]))
    return 1 if differ or crashes else 0


def time_checker(ast_checker, cases_path, functions, answers, passes):
    with open(cases_path) as f:
        rows = [json.loads(line) for line in f]
    prepared = [(row["category"], row["id"], [{c["name"]: c["arguments"]} for c in row["calls"]])
                for row in rows]
    seconds = []
    for _ in range(passes):
        start = time.perf_counter()
        for category, entry_id, output in prepared:
            if "relevance" in category:
                holds_no_call(output)
            else:
                try:
                    ast_checker(functions[entry_id], output, answers[entry_id],
                                language_of(category), category, "slm-eval-crosscheck")
                except Exception:
                    pass
        seconds.append(time.perf_counter() - start)
    print(f"BFCL python checker: {len(prepared)} cases, median {statistics.median(seconds) * 1000:.1f} ms "
          f"per pass over {passes} passes")


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
