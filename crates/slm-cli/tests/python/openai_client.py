"""The official `openai` Python client against `slm serve` (run by tests/serve_openai_python.rs).

Environment: SLM_BASE_URL (http://127.0.0.1:PORT/v1), SLM_MODEL (the served model's name),
SLM_API_KEY (the key the server was started with). Prints `ok NAME` per check and `ALL OK`;
any failure raises (exit code 1).
"""

import json
import os
import sys

import openai
from openai import OpenAI

BASE_URL = os.environ["SLM_BASE_URL"]
MODEL = os.environ["SLM_MODEL"]
KEY = os.environ["SLM_API_KEY"]

client = OpenAI(base_url=BASE_URL, api_key=KEY, max_retries=0, timeout=300)
ASK = [{"role": "user", "content": "What is the capital of France? Answer in one word."}]

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather for a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}, "unit": {"type": "string", "enum": ["c", "f"]}},
            "required": ["city"],
        },
    },
}


def ok(name):
    print(f"ok {name}", flush=True)


def check_models():
    ids = [m.id for m in client.models.list().data]
    assert MODEL in ids, ids
    ok("models")


def check_chat():
    r = client.chat.completions.create(model=MODEL, messages=ASK, max_tokens=16, temperature=0, seed=1)
    assert r.id.startswith("chatcmpl-"), r.id
    assert r.object == "chat.completion"
    assert r.model == MODEL, r.model
    choice = r.choices[0]
    assert choice.message.role == "assistant"
    assert choice.message.content and choice.message.content.strip(), choice
    assert choice.finish_reason in ("stop", "length"), choice.finish_reason
    u = r.usage
    assert u.prompt_tokens > 0 and 0 < u.completion_tokens <= 16, u
    assert u.total_tokens == u.prompt_tokens + u.completion_tokens, u
    # Greedy decoding is reproducible.
    again = client.chat.completions.create(model=MODEL, messages=ASK, max_tokens=16, temperature=0, seed=1)
    assert again.choices[0].message.content == choice.message.content
    # Content as an array of text parts, a system message, stop strings.
    parts = [{"role": "system", "content": "You are terse."},
             {"role": "user", "content": [{"type": "text", "text": "Count: 1, 2, 3,"}, {"type": "text", "text": "go on."}]}]
    r = client.chat.completions.create(model=MODEL, messages=parts, max_tokens=12, temperature=0, stop=["7"])
    assert "7" not in (r.choices[0].message.content or "")
    ok("chat")


def check_stream():
    stream = client.chat.completions.create(
        model=MODEL, messages=ASK, max_tokens=16, temperature=0, seed=1,
        stream=True, stream_options={"include_usage": True},
    )
    chunks = list(stream)
    assert chunks[0].choices[0].delta.role == "assistant", chunks[0]
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert finishes in (["stop"], ["length"]), finishes
    last = chunks[-1]
    assert last.choices == [] and last.usage is not None, last
    assert last.usage.completion_tokens > 0
    assert all(c.id == chunks[0].id for c in chunks)
    whole = client.chat.completions.create(model=MODEL, messages=ASK, max_tokens=16, temperature=0, seed=1)
    assert text == whole.choices[0].message.content, (text, whole.choices[0].message.content)
    assert last.usage.completion_tokens == whole.usage.completion_tokens
    ok("stream_with_usage")


def check_forced_tool_call():
    messages = [{"role": "user", "content": "What's the weather in Paris?"}]
    forced = {"type": "function", "function": {"name": "get_weather"}}
    r = client.chat.completions.create(
        model=MODEL, messages=messages, tools=[WEATHER], tool_choice=forced, parallel_tool_calls=False,
        max_tokens=64, temperature=0,
    )
    choice = r.choices[0]
    assert choice.finish_reason == "tool_calls", choice
    calls = choice.message.tool_calls
    assert len(calls) == 1, calls
    call = calls[0]
    assert call.type == "function" and call.function.name == "get_weather" and call.id
    args = json.loads(call.function.arguments)
    assert isinstance(args.get("city"), str), args
    assert set(args) <= {"city", "unit"}, args

    # The same call streamed: the fragments assemble into the same JSON.
    stream = client.chat.completions.create(
        model=MODEL, messages=messages, tools=[WEATHER], tool_choice=forced, parallel_tool_calls=False,
        max_tokens=64, temperature=0, stream=True,
    )
    name, streamed_args, finish = None, "", None
    for chunk in stream:
        if not chunk.choices:
            continue
        for d in chunk.choices[0].delta.tool_calls or []:
            assert d.index == 0
            name = d.function.name or name
            streamed_args += d.function.arguments or ""
        finish = chunk.choices[0].finish_reason or finish
    assert name == "get_weather" and finish == "tool_calls", (name, finish)
    assert json.loads(streamed_args) == args, (streamed_args, args)

    # tool_choice "required" and the tool result sent back. One call: with parallel calls allowed,
    # greedy SmolLM2 may call again and again until max_tokens cuts the last call short.
    r2 = client.chat.completions.create(
        model=MODEL, messages=messages, tools=[WEATHER], tool_choice="required", parallel_tool_calls=False,
        max_tokens=64, temperature=0)
    assert r2.choices[0].message.tool_calls, r2
    follow = messages + [
        {"role": "assistant", "content": None, "tool_calls": [call.model_dump()]},
        {"role": "tool", "tool_call_id": call.id, "content": json.dumps({"temp_c": 18, "sky": "clear"})},
    ]
    r3 = client.chat.completions.create(
        model=MODEL, messages=follow, tools=[WEATHER], tool_choice="none", max_tokens=32, temperature=0)
    assert r3.choices[0].message.content and not r3.choices[0].message.tool_calls, r3
    ok("forced_tool_call")


PERSON = {
    "type": "object",
    "properties": {
        "name": {"type": "string"},
        "age": {"type": "integer", "minimum": 0, "maximum": 150},
        "city": {"type": "string", "enum": ["Paris", "London", "Rome"]},
    },
    "required": ["name", "age", "city"],
    "additionalProperties": False,
}


def check_json_schema():
    r = client.chat.completions.create(
        model=MODEL,
        messages=[{"role": "user", "content": "Invent a person who lives in Rome, as JSON."}],
        response_format={"type": "json_schema", "json_schema": {"name": "person", "schema": PERSON, "strict": True}},
        max_tokens=80, temperature=0,
    )
    person = json.loads(r.choices[0].message.content)
    assert set(person) == {"name", "age", "city"}, person
    assert isinstance(person["name"], str) and isinstance(person["age"], int), person
    assert 0 <= person["age"] <= 150 and person["city"] in ("Paris", "London", "Rome"), person
    r = client.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "Give me a JSON object about cats."}],
        response_format={"type": "json_object"}, max_tokens=48, temperature=0,
    )
    if r.choices[0].finish_reason == "stop":
        assert isinstance(json.loads(r.choices[0].message.content), dict)
    ok("json_schema")


def expect(error_type, status, **kwargs):
    try:
        kwargs.setdefault("model", MODEL)
        kwargs.setdefault("messages", ASK)
        kwargs.setdefault("max_tokens", 4)
        (kwargs.pop("client", None) or client).chat.completions.create(**kwargs)
    except error_type as e:
        assert e.status_code == status, (e.status_code, status)
        assert isinstance(e.body, dict) and e.body.get("message"), e.body
        return e
    raise AssertionError(f"expected {error_type.__name__}")


def check_errors():
    e = expect(openai.BadRequestError, 400, n=2)
    assert e.param == "n" and e.type == "invalid_request_error", (e.param, e.type)
    expect(openai.BadRequestError, 400, messages=[{"role": "wizard", "content": "hi"}])
    expect(openai.BadRequestError, 400, temperature=-1)
    expect(openai.BadRequestError, 400, tools=[WEATHER], tool_choice={"type": "function", "function": {"name": "nope"}})
    expect(openai.BadRequestError, 400,
           response_format={"type": "json_schema", "json_schema": {"name": "x", "schema": "not a schema"}})
    e = expect(openai.NotFoundError, 404, model="no-such-model")
    assert e.code == "model_not_found", e.code
    bad_key = OpenAI(base_url=BASE_URL, api_key="wrong-" + KEY, max_retries=0)
    e = expect(openai.AuthenticationError, 401, client=bad_key)
    assert KEY not in str(e.body)
    try:
        bad_key.models.list()
        raise AssertionError("models.list without the key")
    except openai.AuthenticationError:
        pass
    ok("typed_errors")


def main():
    print(f"openai {openai.__version__}", flush=True)
    for check in (check_models, check_chat, check_stream, check_forced_tool_call, check_json_schema, check_errors):
        check()
    print("ALL OK", flush=True)


if __name__ == "__main__":
    try:
        main()
    except Exception as e:  # noqa: BLE001 - report any failure as exit code 1
        import traceback

        traceback.print_exc()
        sys.exit(1)
