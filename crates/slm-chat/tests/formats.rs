//! Tool-call formats: llama.cpp's parser cases per family, streaming in pieces, malformed
//! input, forced grammars (compiled with llguidance over a byte-level vocabulary) and detection
//! on real templates.

use std::path::Path;

use llguidance::api::TopLevelGrammar;
use llguidance::{Matcher, ParserFactory};
use serde::Deserialize;
use serde_json::{Value, json};
use slm_chat::formats::{FormatEvent, ParsedOutput, ReasoningSplitter, ToolFormat};
use slm_core::{ToolCall, ToolSpec};
use toktrie::{ApproximateTokEnv, TokEnv};

fn fixtures() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/formats")
}

/// The tools of llama.cpp's test-chat.cpp.
fn llamacpp_tools() -> Vec<ToolSpec> {
    vec![
        ToolSpec::new(
            "special_function",
            "I'm special",
            json!({"type": "object", "properties": {"arg1": {"type": "integer", "description": "The arg."}}, "required": ["arg1"]}),
        ),
        ToolSpec::new(
            "python",
            "an ipython interpreter",
            json!({"type": "object", "properties": {"code": {"type": "string", "description": "Python code to execute."}}, "required": ["code"]}),
        ),
    ]
}

fn weather_tools() -> Vec<ToolSpec> {
    vec![
        ToolSpec::new(
            "get_weather",
            "Current weather for a city",
            json!({"type": "object", "properties": {"city": {"type": "string"}, "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}}, "required": ["city"], "additionalProperties": false}),
        ),
        ToolSpec::new(
            "add",
            "Adds two numbers",
            json!({"type": "object", "properties": {"a": {"type": "number"}, "b": {"type": "number"}}, "required": ["a", "b"]}),
        ),
    ]
}

fn format_named(name: &str) -> ToolFormat {
    *ToolFormat::ALL
        .iter()
        .find(|f| f.name() == name)
        .unwrap_or_else(|| panic!("no format {name}"))
}

/// `text` cut into pieces of about `n` bytes, on character boundaries.
fn pieces(text: &str, n: usize) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    while start < text.len() {
        let mut end = (start + n).min(text.len());
        while !text.is_char_boundary(end) {
            end += 1;
        }
        out.push(&text[start..end]);
        start = end;
    }
    out
}

/// What the events of a stream add up to.
fn fold(events: &[FormatEvent], opened: bool) -> ParsedOutput {
    let mut out = ParsedOutput::default();
    let mut reasoning = String::new();
    let mut calls: Vec<(String, String, String, bool)> = Vec::new();
    for e in events {
        match e {
            FormatEvent::Text(t) => out.content.push_str(t),
            FormatEvent::Reasoning(r) => reasoning.push_str(r),
            FormatEvent::ToolCallStart { index, id, name } => {
                assert_eq!(*index, calls.len(), "indices are consecutive");
                calls.push((id.clone(), name.clone(), String::new(), false));
            }
            FormatEvent::ToolCallArguments { index, fragment } => {
                calls[*index].2.push_str(fragment)
            }
            FormatEvent::ToolCallAborted { index, .. } => calls[*index].3 = true,
        }
    }
    out.reasoning = opened.then_some(reasoning);
    out.tool_calls = calls
        .into_iter()
        .filter(|c| !c.3)
        .map(|(id, name, args, _)| {
            let arguments: Value = serde_json::from_str(&args)
                .unwrap_or_else(|e| panic!("streamed arguments {args:?}: {e}"));
            ToolCall::new(id, name, arguments)
        })
        .collect();
    out
}

/// Streams `text` in pieces of `n` bytes; checks that the events add up to the final parse and
/// returns it.
fn stream(
    format: ToolFormat,
    text: &str,
    tools: &[ToolSpec],
    think: bool,
    n: usize,
) -> ParsedOutput {
    let mut parser = format.stream_parser(tools, think);
    let mut events = Vec::new();
    for piece in pieces(text, n) {
        events.extend(parser.push(piece));
    }
    let (rest, out) = parser.finish();
    events.extend(rest);
    let folded = fold(&events, out.reasoning.is_some());
    assert_eq!(folded.content, out.content, "{format:?} {n} {text:?}");
    assert_eq!(folded.reasoning, out.reasoning, "{format:?} {n} {text:?}");
    assert_eq!(folded.tool_calls, out.tool_calls, "{format:?} {n} {text:?}");
    out
}

#[derive(Deserialize)]
struct Cases {
    upstream: String,
    cases: Vec<Case>,
}

#[derive(Deserialize)]
struct Case {
    format: String,
    name: String,
    origin: String,
    starts_in_reasoning: bool,
    input: String,
    content: String,
    reasoning: Option<String>,
    calls: Vec<ExpectedCall>,
    problems: usize,
}

#[derive(Deserialize)]
struct ExpectedCall {
    name: String,
    arguments: Value,
    id: Option<String>,
}

#[test]
fn llamacpp_cases_parse_and_stream_alike() {
    let cases: Cases = serde_json::from_str(
        &std::fs::read_to_string(fixtures().join("llamacpp_cases.json")).unwrap(),
    )
    .unwrap();
    assert!(
        cases
            .upstream
            .contains("1eeb523c3e0c7ffbd59469f5463dcbdecba3535e")
    );
    let tools = llamacpp_tools();
    let mut per_format = std::collections::BTreeMap::new();
    for case in &cases.cases {
        let format = format_named(&case.format);
        let what = format!("{} / {} ({})", case.format, case.name, case.origin);
        let mut parser = format.stream_parser(&tools, case.starts_in_reasoning);
        parser.push(&case.input);
        let out = parser.finish().1;
        assert_eq!(out.content, case.content, "{what}");
        assert_eq!(out.reasoning, case.reasoning, "{what}");
        assert_eq!(
            out.problems.len(),
            case.problems,
            "{what}: {:?}",
            out.problems
        );
        assert_eq!(
            out.tool_calls.len(),
            case.calls.len(),
            "{what}: {:?}",
            out.tool_calls
        );
        for (i, (got, want)) in out.tool_calls.iter().zip(&case.calls).enumerate() {
            assert_eq!(got.name, want.name, "{what}");
            assert_eq!(got.arguments, want.arguments, "{what}");
            let id = want.id.clone().unwrap_or_else(|| format!("call_{i}"));
            assert_eq!(got.id, id, "{what}");
        }
        for n in [1, 3, 7] {
            let streamed = stream(format, &case.input, &tools, case.starts_in_reasoning, n);
            assert_eq!(streamed, out, "{what}, pieces of {n}");
        }
        *per_format.entry(case.format.clone()).or_insert(0) += 1;
    }
    assert_eq!(per_format.len(), ToolFormat::ALL.len(), "{per_format:?}");
    eprintln!("{} cases: {per_format:?}", cases.cases.len());
}

/// One or two calls of `weather_tools` as each family writes them (what its grammar forces).
fn canonical(format: ToolFormat, two: bool) -> String {
    let one = match format {
        ToolFormat::Hermes => {
            "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Oslo\"}}\n</tool_call>"
        }
        ToolFormat::Llama3 => "{\"name\": \"get_weather\", \"parameters\": {\"city\": \"Oslo\"}}",
        ToolFormat::Phi4Mini => {
            "<|tool_call|>[{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Oslo\"}}]<|/tool_call|>"
        }
        ToolFormat::MistralNemo => {
            "[TOOL_CALLS][{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Oslo\"}, \"id\": \"abcDEF123\"}]"
        }
        ToolFormat::Gemma3 => "```tool_code\nget_weather(city=\"Oslo\")\n```",
        ToolFormat::Granite => {
            "<|tool_call|>[{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Oslo\"}}]"
        }
        ToolFormat::DeepSeekR1 => {
            "<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>get_weather\n```json\n{\"city\": \"Oslo\"}\n```<｜tool▁call▁end｜><｜tool▁calls▁end｜>"
        }
        ToolFormat::Wire => "<tool_call name=\"get_weather\">{\"city\": \"Oslo\"}</tool_call>",
    };
    if !two {
        return one.to_string();
    }
    match format {
        ToolFormat::Hermes => format!("{one}\n<tool_call>\n{{\"name\": \"add\", \"arguments\": {{\"a\": 1, \"b\": 2.5}}}}\n</tool_call>"),
        ToolFormat::Llama3 => format!("{one}\n{{\"name\": \"add\", \"parameters\": {{\"a\": 1, \"b\": 2.5}}}}"),
        ToolFormat::Phi4Mini => one.replace("}}]", "}}, {\"name\": \"add\", \"arguments\": {\"a\": 1, \"b\": 2.5}}]"),
        ToolFormat::MistralNemo => one.replace("\"}]", "\"}, {\"name\": \"add\", \"arguments\": {\"a\": 1, \"b\": 2.5}, \"id\": \"zzzzzzzz9\"}]"),
        ToolFormat::Gemma3 => one.replace("\n```", "\nadd(a=1, b=2.5)\n```"),
        ToolFormat::Granite => one.replace("}}]", "}}, {\"name\": \"add\", \"arguments\": {\"a\": 1, \"b\": 2.5}}]"),
        ToolFormat::DeepSeekR1 => one.replace(
            "<｜tool▁calls▁end｜>",
            "\n<｜tool▁call▁begin｜>function<｜tool▁sep｜>add\n```json\n{\"a\": 1, \"b\": 2.5}\n```<｜tool▁call▁end｜><｜tool▁calls▁end｜>",
        ),
        ToolFormat::Wire => format!("{one}\n<tool_call name=\"add\">{{\"a\": 1, \"b\": 2.5}}</tool_call>"),
    }
}

fn accepts(env: &TokEnv, lark: &str, text: &str) -> Result<bool, String> {
    let mut factory = ParserFactory::new_simple(env).map_err(|e| e.to_string())?;
    factory.quiet();
    let parser = factory
        .create_parser(TopLevelGrammar::from_lark(lark.to_string()))
        .map_err(|e| e.to_string())?;
    let mut matcher = Matcher::new(Ok(parser));
    if let Some(e) = matcher.get_error() {
        return Err(e);
    }
    let tokens = env.tokenize_bytes(text.as_bytes());
    if matcher.consume_tokens(&tokens).is_err() {
        return Ok(false);
    }
    Ok(matcher.is_accepting().unwrap_or(false))
}

#[test]
fn forced_grammars_compile_and_accept_the_canonical_calls() {
    let env = ApproximateTokEnv::single_byte_env();
    let tools = weather_tools();
    for format in ToolFormat::ALL {
        let one = canonical(format, false);
        let two = canonical(format, true);
        // The canonical renderings are what the parser reads.
        let parsed = format.parse(&two, &tools);
        assert_eq!(parsed.tool_calls.len(), 2, "{format:?}: {parsed:?}");
        assert_eq!(parsed.content, "", "{format:?}");
        assert_eq!(
            parsed.tool_calls[1].arguments,
            json!({"a": 1, "b": 2.5}),
            "{format:?}"
        );

        let single = format.forced_call_grammar(&tools, 1);
        assert_eq!(
            accepts(&env, &single, &one),
            Ok(true),
            "{format:?}\n{single}\n{one}"
        );
        assert_eq!(
            accepts(&env, &single, &two),
            Ok(false),
            "{format:?}: one call at most"
        );
        let double = format.forced_call_grammar(&tools, 2);
        assert_eq!(
            accepts(&env, &double, &one),
            Ok(true),
            "{format:?}\n{double}"
        );
        assert_eq!(
            accepts(&env, &double, &two),
            Ok(true),
            "{format:?}\n{double}\n{two}"
        );
        // Undeclared tools and arguments outside the schema are refused.
        let other = one.replace("get_weather", "get_wether");
        assert_eq!(accepts(&env, &double, &other), Ok(false), "{format:?}");
        if format != ToolFormat::Gemma3 {
            let bad = one.replace("\"Oslo\"", "3");
            assert_eq!(accepts(&env, &double, &bad), Ok(false), "{format:?}: {bad}");
        }
        // No declared tools: any name, any object.
        let free = format.forced_call_grammar(&[], 1);
        assert_eq!(accepts(&env, &free, &other), Ok(true), "{format:?}\n{free}");
    }
}

#[test]
fn detection_on_real_templates() {
    let expected = [
        ("Qwen-Qwen2.5-7B-Instruct.jinja", ToolFormat::Hermes),
        ("Qwen-Qwen3-0.6B.jinja", ToolFormat::Hermes),
        ("Qwen-QwQ-32B.jinja", ToolFormat::Hermes),
        (
            "NousResearch-Hermes-3-Llama-3.1-8B-tool_use.jinja",
            ToolFormat::Hermes,
        ),
        (
            "nousresearch_hermes2_pro_tool_use.jinja",
            ToolFormat::Hermes,
        ),
        ("smollm3.jinja", ToolFormat::Hermes),
        ("meta-llama-Llama-3.1-8B-Instruct.jinja", ToolFormat::Llama3),
        ("meta-llama-Llama-3.2-3B-Instruct.jinja", ToolFormat::Llama3),
        (
            "llama-cpp-microsoft-Phi-4-mini-instruct.jinja",
            ToolFormat::Phi4Mini,
        ),
        (
            "mistralai-Mistral-Nemo-Instruct-2407.jinja",
            ToolFormat::MistralNemo,
        ),
        ("mistral_nemo_tool_call.jinja", ToolFormat::MistralNemo),
        ("google-gemma-3-it.jinja", ToolFormat::Gemma3),
        ("gemma3n.jinja", ToolFormat::Gemma3),
        (
            "ibm-granite-granite-3.3-2B-Instruct.jinja",
            ToolFormat::Granite,
        ),
        (
            "deepseek-ai-DeepSeek-R1-Distill-Qwen-32B.jinja",
            ToolFormat::DeepSeekR1,
        ),
        ("llama-cpp-deepseek-r1.jinja", ToolFormat::DeepSeekR1),
        ("deepseek_tool_call.jinja", ToolFormat::DeepSeekR1),
        ("llama3.json", ToolFormat::Wire),
        ("phi3.json", ToolFormat::Wire),
    ];
    let dir = fixtures().join("templates");
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let file = path.file_name().unwrap().to_str().unwrap().to_string();
        let Some(&(_, want)) = expected.iter().find(|(f, _)| *f == file) else {
            continue;
        };
        let text = std::fs::read_to_string(&path).unwrap();
        let source = if file.ends_with(".json") {
            let v: Value = serde_json::from_str(&text).unwrap();
            v["chat_template"].as_str().unwrap().to_string()
        } else {
            text
        };
        assert_eq!(ToolFormat::detect(&source), want, "{file}");
        seen += 1;
    }
    assert_eq!(seen, expected.len());

    let read = |f: &str| std::fs::read_to_string(dir.join(f)).unwrap();
    for f in [
        "Qwen-Qwen3-0.6B.jinja",
        "Qwen-QwQ-32B.jinja",
        "smollm3.jinja",
        "deepseek-ai-DeepSeek-R1-Distill-Qwen-32B.jinja",
    ] {
        assert!(slm_chat::formats::supports_thinking(&read(f)), "{f}");
    }
    assert!(!slm_chat::formats::supports_thinking(&read(
        "Qwen-Qwen2.5-7B-Instruct.jinja"
    )));
    for f in [
        "Qwen-QwQ-32B.jinja",
        "deepseek-ai-DeepSeek-R1-Distill-Qwen-32B.jinja",
    ] {
        assert!(slm_chat::formats::template_opens_thinking(&read(f)), "{f}");
    }
    for f in [
        "Qwen-Qwen3-0.6B.jinja",
        "Qwen-Qwen2.5-7B-Instruct.jinja",
        "smollm3.jinja",
    ] {
        assert!(!slm_chat::formats::template_opens_thinking(&read(f)), "{f}");
    }
}

#[test]
fn reasoning_stays_out_of_tool_calls() {
    let tools = weather_tools();
    for format in ToolFormat::ALL {
        let call = canonical(format, false);
        let text = format!("<think>\nMaybe {call}?\n</think>\n\n{call}");
        for n in [1, 3, 7, 1000] {
            let out = stream(format, &text, &tools, false, n);
            assert_eq!(
                out.reasoning.as_deref(),
                Some(format!("Maybe {call}?").as_str()),
                "{format:?}"
            );
            assert_eq!(out.tool_calls.len(), 1, "{format:?}");
            assert_eq!(out.content, "", "{format:?}");
        }
    }
    let (r, c) = ReasoningSplitter::split("no tags here", false);
    assert_eq!((r, c.as_str()), (None, "no tags here"));
}

#[test]
fn text_around_calls_streams_and_markers_are_held_back() {
    let tools = weather_tools();
    let mut parser = ToolFormat::Hermes.stream_parser(&tools, false);
    assert_eq!(
        parser.push("Let me look <tool_ca"),
        vec![FormatEvent::Text("Let me look ".into())]
    );
    let events = parser.push("ll>\n{\"name\": \"get_weather\", \"arguments\": {\"ci");
    assert_eq!(
        events,
        vec![
            FormatEvent::ToolCallStart {
                index: 0,
                id: "call_0".into(),
                name: "get_weather".into()
            },
            FormatEvent::ToolCallArguments {
                index: 0,
                fragment: "{\"ci".into()
            },
        ]
    );
    let events = parser.push("ty\": \"Oslo\"}}\n</tool_call> then <tool_cal and more");
    assert_eq!(
        events,
        vec![
            FormatEvent::ToolCallArguments {
                index: 0,
                fragment: "ty\": \"Oslo\"}".into()
            },
            FormatEvent::Text("then <tool_cal and more".into()),
        ]
    );
    let (_, out) = parser.finish();
    assert_eq!(out.content, "Let me look then <tool_cal and more");
    assert!(out.problems.is_empty());
}

/// A small deterministic generator (no external crate).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) as usize
    }
}

#[test]
fn malformed_inputs_never_panic_and_stream_alike() {
    let tools = weather_tools();
    let noise = [
        "{",
        "}",
        "[",
        "]",
        "\"",
        ",",
        ":",
        "<",
        ">",
        "\n",
        " ",
        "(",
        ")",
        "'",
        "`",
        "\\",
        "é",
        "｜",
        "<tool_call>",
        "</tool_call>",
        "<|tool_call|>",
        "[TOOL_CALLS]",
        "```tool_code\n",
        "```",
        "<think>",
        "</think>",
        "<｜tool▁call▁end｜>",
        "function<｜tool▁sep｜>",
        "x",
        "1",
    ];
    let cases: Cases = serde_json::from_str(
        &std::fs::read_to_string(fixtures().join("llamacpp_cases.json")).unwrap(),
    )
    .unwrap();
    let mut rng = Lcg(13);
    let mut runs = 0;
    for format in ToolFormat::ALL {
        let base = format!("Hi {}\nok", canonical(format, true));
        let mut inputs: Vec<String> = (0..=base.len())
            .filter(|&i| base.is_char_boundary(i))
            .map(|i| base[..i].to_string())
            .collect();
        let mut bases = vec![base];
        bases.extend(
            cases
                .cases
                .iter()
                .filter(|c| c.format == format.name())
                .map(|c| c.input.clone()),
        );
        for round in 0..600 {
            let mut s = bases[round % bases.len()].clone();
            for _ in 0..1 + rng.next() % 4 {
                let mut at = rng.next() % (s.len() + 1);
                while !s.is_char_boundary(at) {
                    at -= 1;
                }
                let what = noise[rng.next() % noise.len()];
                if rng.next().is_multiple_of(2) {
                    s.insert_str(at, what);
                } else {
                    let mut end = (at + 1 + rng.next() % 4).min(s.len());
                    while !s.is_char_boundary(end) {
                        end += 1;
                    }
                    s.replace_range(at..end, what);
                }
            }
            inputs.push(s);
        }
        for input in &inputs {
            for think in [false, true] {
                let whole = format.parse(input, &tools);
                let _ = whole;
                let n = 1 + rng.next() % 9;
                let streamed = stream(format, input, &tools, think, n);
                let mut parser = format.stream_parser(&tools, think);
                parser.push(input);
                assert_eq!(streamed, parser.finish().1, "{format:?} {n} {input:?}");
                runs += 1;
            }
        }
    }
    eprintln!("{runs} malformed runs");
}

#[test]
fn system_instructions_name_every_tool() {
    let tools = weather_tools();
    for format in ToolFormat::ALL {
        let text = format.system_instructions(&tools);
        assert!(
            text.contains("get_weather") && text.contains("add"),
            "{format:?}"
        );
    }
}

/// The templates' own rendering of an assistant call (the jinja2 fixtures of
/// `tests/templates.rs`) parses back to that call with the detected format.
#[test]
fn templates_renderings_of_calls_parse_back() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/templates");
    let tools = vec![
        ToolSpec::new("get_weather", "", json!({"type": "object"})),
        ToolSpec::new("add", "", json!({"type": "object"})),
    ];
    let mut parsed_back = std::collections::BTreeSet::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "json") {
            continue;
        }
        let fixture: Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let format = ToolFormat::detect(fixture["template"].as_str().unwrap());
        for case in fixture["cases"].as_array().unwrap() {
            let (Some(name), Some(prompt)) = (case["name"].as_str(), case["expected"].as_str())
            else {
                continue;
            };
            if !name.starts_with("tool call round trip") {
                continue;
            }
            // The prompt also holds the tool list and the user's turns; Llama 3 calls only at
            // the start of an answer, so its assistant turns are parsed one by one.
            let turns: Vec<&str> = if format == ToolFormat::Llama3 {
                prompt
                    .split("<|start_header_id|>assistant<|end_header_id|>\n\n")
                    .skip(1)
                    .map(|t| t.split("<|eot_id|>").next().unwrap())
                    .collect()
            } else {
                vec![prompt]
            };
            let found = turns.iter().any(|turn| {
                format
                    .parse(turn, &tools)
                    .tool_calls
                    .iter()
                    .any(|c| c.name == "get_weather" && c.arguments == json!({"city": "Oslo"}))
            });
            if found {
                parsed_back.insert(format!(
                    "{} ({})",
                    fixture["source_file"].as_str().unwrap(),
                    format.name()
                ));
            }
        }
    }
    // Granite 3.3, SmolLM3 and the R1 distills do not render an assistant's tool calls (the
    // R1 distill only when `content` is None); Gemma 3 refuses the `tool` role.
    let expected = [
        "NousResearch-Hermes-3-Llama-3.1-8B-tool_use.jinja (hermes)",
        "Qwen-QwQ-32B.jinja (hermes)",
        "Qwen-Qwen2.5-7B-Instruct.jinja (hermes)",
        "Qwen-Qwen3-0.6B.jinja (hermes)",
        "chatml_tools.jinja (hermes)",
        "deepseek_tool_call.jinja (deep-seek-r1)",
        "llama-cpp-microsoft-Phi-4-mini-instruct.jinja (phi4-mini)",
        "meta-llama-Llama-3.1-8B-Instruct.jinja (llama3)",
        "meta-llama-Llama-3.2-3B-Instruct.jinja (llama3)",
        "mistral_nemo_tool_call.jinja (mistral-nemo)",
        "mistral_small_tool_call.jinja (mistral-nemo)",
        "mistralai-Mistral-Nemo-Instruct-2407.jinja (mistral-nemo)",
        "nousresearch_hermes2_pro_tool_use.jinja (hermes)",
    ];
    let expected: std::collections::BTreeSet<String> =
        expected.iter().map(|s| s.to_string()).collect();
    assert_eq!(parsed_back, expected);
}

#[test]
fn python_literals_become_json() {
    let tools = [ToolSpec::new(
        "f",
        "",
        json!({"type": "object", "properties": {"s": {}, "i": {}, "x": {}}}),
    )];
    let text = "```tool_code\nf(s='it\\'s \"q\"', i=-3, x=2.5e1, t=True, n=None, b=False, l=[1, 'two', [3.0]], d={'k': (1, 2), \"z\": {}}, u=\"caf\\u00e9\")\n```";
    let out = ToolFormat::Gemma3.parse(text, &tools);
    assert!(out.problems.is_empty(), "{:?}", out.problems);
    assert_eq!(
        out.tool_calls[0].arguments,
        json!({"s": "it's \"q\"", "i": -3, "x": 25.0, "t": true, "n": null, "b": false,
               "l": [1, "two", [3.0]], "d": {"k": [1, 2], "z": {}}, "u": "café"})
    );
    // Positional arguments take the declared names in order.
    let out = ToolFormat::Gemma3.parse("```tool_code\nf('a', 1)\n```", &tools);
    assert_eq!(out.tool_calls[0].arguments, json!({"s": "a", "i": 1}));
    for bad in [
        "f(s=)",
        "f(s='open)",
        "f(=1)",
        "f(s=1 2)",
        "f(s=[1,)",
        "f(s=nope)",
    ] {
        let out = ToolFormat::Gemma3.parse(&format!("```tool_code\n{bad}\n```"), &tools);
        assert!(out.tool_calls.is_empty(), "{bad}");
        assert_eq!(out.problems.len(), 1, "{bad}");
        assert_eq!(out.content, format!("```tool_code\n{bad}\n```"));
    }
}

#[test]
fn slm_core_wire_renderings_parse_back() {
    let calls = vec![
        ToolCall::new("call_0", "get_weather", json!({"city": "</tool_call> <b>"})),
        ToolCall::new("call_1", "add", json!({"a": 1, "b": 2})),
    ];
    let text = format!("Sure.\n{}", slm_core::wire::render_tool_calls(&calls));
    for n in [1, 3, 7] {
        let out = stream(ToolFormat::Wire, &text, &weather_tools(), false, n);
        assert_eq!(out.tool_calls, calls);
        assert_eq!(out.content, "Sure.\n");
    }
}
