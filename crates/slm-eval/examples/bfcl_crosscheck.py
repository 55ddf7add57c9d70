"""Replays the cases dumped by `examples/bfcl_agreement.rs --dump cases.jsonl` through BFCL's own
AST checker and reports how often its verdict equals slm-eval's.

BFCL's checker is not part of this repository. Take `ast_checker.py` from
ShishirPatil/gorilla (berkeley-function-call-leaderboard/bfcl_eval/eval_checker/ast_eval/) and run:

    python3 bfcl_crosscheck.py path/to/ast_checker.py cases.jsonl /work/shared/data/bfcl [--time N]

With `--time N` it also times N passes of BFCL's checker over all cases (the reference for the
`bfcl` criterion benchmark) and prints the median.

The file is loaded unmodified; the few BFCL modules it imports (language enum, model config,
Java/JavaScript converters) are replaced by minimal stand-ins, since only the Python path runs.
Irrelevance is judged as BFCL's eval_runner does: a pass when the output holds no call.
"""
import collections
import enum
import importlib.util
import json
import statistics
import sys
import time
import types


def stub(name, **attrs):
    module = types.ModuleType(name)
    module.__dict__.update(attrs)
    sys.modules[name] = module


class Language(enum.Enum):
    PYTHON = "python"
    JAVA = "java"
    JAVASCRIPT = "javascript"


class _Config:
    underscore_to_dot = False


class _Configs(dict):
    def __missing__(self, key):
        return _Config()


def _unsupported(*args, **kwargs):
    raise NotImplementedError("only the Python language path is used")


for package in ["bfcl_eval", "bfcl_eval.constants", "bfcl_eval.eval_checker",
                "bfcl_eval.eval_checker.ast_eval", "bfcl_eval.eval_checker.ast_eval.type_convertor"]:
    stub(package)
stub("bfcl_eval.constants.enums", Language=Language)
stub("bfcl_eval.constants.model_config", MODEL_CONFIG_MAPPING=_Configs())
stub("bfcl_eval.constants.type_mappings", JAVA_TYPE_CONVERSION={}, JS_TYPE_CONVERSION={})
stub("bfcl_eval.eval_checker.ast_eval.type_convertor.java_type_converter", java_type_converter=_unsupported)
stub("bfcl_eval.eval_checker.ast_eval.type_convertor.js_type_converter", js_type_converter=_unsupported)


def load_checker(path):
    spec = importlib.util.spec_from_file_location("ast_checker", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.ast_checker


def is_call_list(output):
    return isinstance(output, list) and all(
        isinstance(item, dict) and len(item) == 1 and isinstance(next(iter(item.values())), dict)
        for item in output
    )


def holds_no_call(output):
    return (not is_call_list(output) or len(output) == 0
            or (len(output) == 1 and len(output[0]) == 0))


def main(checker_path, cases_path, data_dir, *rest):
    ast_checker = load_checker(checker_path)
    categories = ["simple_python", "multiple", "parallel", "parallel_multiple", "irrelevance"]
    functions, answers = {}, {}
    for category in categories:
        with open(f"{data_dir}/BFCL_v4_{category}.json") as f:
            for line in f:
                entry = json.loads(line)
                functions[entry["id"]] = entry["function"]
        if category != "irrelevance":
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
            if category == "irrelevance":
                bfcl = holds_no_call(output)
            else:
                try:
                    bfcl = ast_checker(functions[row["id"]], output, answers[row["id"]],
                                       Language.PYTHON, category, "slm-eval-crosscheck")["valid"]
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
        print(f"{category:<18} cases {n:6d}  same verdict as BFCL {same:6d}  ({100 * same / max(n, 1):.2f}%)")
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
            if category == "irrelevance":
                holds_no_call(output)
            else:
                ast_checker(functions[entry_id], output, answers[entry_id], Language.PYTHON,
                            category, "slm-eval-crosscheck")
        seconds.append(time.perf_counter() - start)
    print(f"BFCL python checker: {len(prepared)} cases, median {statistics.median(seconds) * 1000:.1f} ms "
          f"per pass over {passes} passes")


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
