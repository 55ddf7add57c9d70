"""Compares the tools `examples/bfcl_tools.rs` dumps with what BFCL makes of the same functions
for a function-calling model: its `_func_doc_language_specific_pre_processing` (bfcl_eval/utils.py)
then `_cast_to_openai_type` with `GORILLA_TO_OPENAPI` (bfcl_eval/model_handler/utils.py), both
taken unmodified from a BFCL checkout (the functions alone are extracted, so BFCL's model
dependencies need not be installed):

    python3 bfcl_tools.py path/to/bfcl_eval /tmp/tools.jsonl

Pass `--insertion-order` to compare the JSON schema BFCL writes into a JavaScript object's
description exactly as BFCL writes it (slm-eval keeps the data's key order, serde_json's
`preserve_order`); without it the keys are compared sorted.
"""
import ast
import collections
import copy
import json
import sys
import types


def main(package, dump, *flags):
    dumps = json.dumps if "--insertion-order" in flags else (
        lambda value, **kw: json.dumps(value, sort_keys=True, **kw))
    ns = {"json": types.SimpleNamespace(dumps=dumps), "copy": copy}
    exec(open(f"{package}/constants/type_mappings.py").read(), ns)
    wanted = {f"{package}/utils.py": {"is_java", "is_js", "_get_language_specific_hint",
                                      "_func_doc_language_specific_pre_processing"},
              f"{package}/model_handler/utils.py": {"_cast_to_openai_type"}}
    for path, names in wanted.items():
        for node in ast.parse(open(path).read()).body:
            if isinstance(node, ast.FunctionDef) and node.name in names:
                exec(compile(ast.Module([node], []), path, "exec"), ns)
    ours = {}
    with open(dump) as f:
        for line in f:
            row = json.loads(line)
            ours[row["id"]] = row["tools"]
    totals, differ = collections.Counter(), collections.Counter()
    for entry_id in ours:
        category = entry_id.rsplit("_", 1)[0]
        totals[category] += 0
    for category in list(totals):
        with open(f"{package}/data/BFCL_v4_{category}.json") as f:
            for line in f:
                entry = json.loads(line)
                functions = ns["_func_doc_language_specific_pre_processing"](
                    copy.deepcopy(entry["function"]), category)
                for function in functions:
                    function["parameters"]["type"] = "object"
                    function["parameters"]["properties"] = ns["_cast_to_openai_type"](
                        function["parameters"]["properties"], ns["GORILLA_TO_OPENAPI"])
                mine = ours[entry["id"]]
                same = len(mine) == len(functions) and all(
                    m["description"] == b["description"] and m["parameters"] == b["parameters"]
                    for m, b in zip(mine, functions))
                totals[category] += 1
                if not same:
                    differ[category] += 1
                    if sum(differ.values()) <= 5:
                        print("differs:", entry["id"])
    for category, n in totals.items():
        print(f"{category:<22} entries {n:5d}  same tools as BFCL {n - differ[category]:5d}")
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
