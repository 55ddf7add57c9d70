"""Differential check of slm-eval's ports of BFCL's Java and JavaScript value converters
(src/bfcl/java_types.rs, js_types.rs): writes random argument texts (well-formed collections
and numbers, and broken ones) with the value BFCL's own unmodified `java_type_converter` /
`js_type_converter` gives each (or the exception it raises), for `examples/bfcl_converters.rs`
to compare:

    python3 bfcl_converters.py path/to/bfcl_eval/eval_checker/ast_eval/ast_checker.py /tmp/conv.jsonl [COUNT [SEED]]
    cargo run -p slm-eval --release --example bfcl_converters -- /tmp/conv.jsonl
"""
import json
import os
import random
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bfcl_crosscheck  # noqa: E402  (loads BFCL's modules from the checkout)

# Pieces of Java/JavaScript argument text; the first 13 are whole values.
ATOMS = ["1", "-2", "3.5", "4f", "5L", "6n", "1e3", "2.5e-1F", "true", "false", '"a b"', "'c'",
         "x", "", " ", "1_0", "NaN", "[", "]", "{", "}", "(", ")", ",", ", ", ":", ": ", "new ",
         "ArrayList<>", "ArrayList<String>", "Arrays.asList", "HashMap<String, Object>", "int[]",
         "Array", "add", "put", '"k"', ";", "{{", "}}", "\n", "é"]
VALUES = ATOMS[:13]
KEYS = ["a", '"b"', "'c'"]


def some(pieces, most):
    return [random.choice(pieces) for _ in range(random.randint(0, most))]


TEMPLATES = [
    lambda: random.choice(VALUES),
    lambda: "new ArrayList<>(Arrays.asList(" + ", ".join(some(VALUES, 4)) + "))",
    lambda: "new ArrayList<String>() {{ " + " ".join(f"add({v});" for v in some(VALUES, 3)) + " }}",
    lambda: "new int[]{" + ", ".join(some(VALUES, 4)) + "}",
    lambda: "new HashMap<String, Object>() {{ "
    + " ".join(f'put("k{i}", {v});' for i, v in enumerate(some(VALUES, 3))) + " }}",
    lambda: "[" + ", ".join(some(VALUES + ["[1, 2]", "{a: 1}"], 4)) + "]",
    lambda: "{" + ", ".join(random.choice(KEYS) + ": " + v
                            for v in some(VALUES + ["[1, 2]", "{d: 3}"], 3)) + "}",
    lambda: "".join(random.choice(ATOMS) for _ in range(random.randint(1, 8))),
]
# The template that is well formed for a type (used 70% of the time).
FITTING = {"ArrayList": [1, 2], "Array": [3], "HashMap": [4], "array": [5], "dict": [6]}
JAVA_TYPES = ["byte", "short", "integer", "float", "double", "long", "boolean", "char", "Array",
              "ArrayList", "HashMap", "String", "any"]
JS_TYPES = ["String", "integer", "float", "Bigint", "Boolean", "dict", "array", "any"]
JAVA_NESTED = [None, "String", "integer", "long", "char", "float", "boolean", "any"]
JS_NESTED = [None, "String", "integer", "float", "Boolean", "dict", "array", "Bigint"]


def encode(result):
    """The row's result as JSON; inf/nan, which JSON cannot hold, are marked."""
    try:
        json.dumps(result, allow_nan=False)
        return result
    except ValueError:
        return {"ok": {"nonfinite": repr(result)}}


def generate(java, js, out, count):
    for _ in range(count):
        if random.random() < 0.5:
            lang, kind, convert = "java", random.choice(JAVA_TYPES), java
            nested = random.choice(JAVA_NESTED) if kind in ("Array", "ArrayList") else None
        else:
            lang, kind, convert = "js", random.choice(JS_TYPES), js
            nested = random.choice(JS_NESTED) if kind == "array" else None
        fitting = FITTING.get(kind, [0])
        template = random.choice(fitting) if random.random() < 0.7 else random.randrange(len(TEMPLATES))
        text = TEMPLATES[template]()
        try:
            result = {"ok": convert(text, kind, nested) if nested else convert(text, kind)}
        except Exception as e:  # BFCL raises: the port must return an error too
            result = {"err": type(e).__name__}
        row = {"lang": lang, "text": text, "type": kind, "nested": nested, **encode(result)}
        out.write(json.dumps(row) + "\n")


def main(checker_path, out_path, count="100000", seed="11"):
    bfcl_crosscheck.load_bfcl(checker_path)
    prefix = "bfcl_eval.eval_checker.ast_eval.type_convertor."
    J = sys.modules[prefix + "java_type_converter"].java_type_converter
    S = sys.modules[prefix + "js_type_converter"].js_type_converter
    random.seed(int(seed))
    with open(out_path, "w") as out:
        generate(J, S, out, int(count))


if __name__ == "__main__":
    main(*sys.argv[1:])
