//! Constrained decoding on random-weight models: every answer parses and validates.

mod common;

use common::schemas::{Rng, assert_valid, object, schema_set};

use serde_json::{Map, Value, json};
use slm_core::{
    ChatModel, ChatRequest, Error, FinishReason, GenerationOptions, ResponseFormat, ToolChoice,
    ToolSpec, collect_stream,
};
use slm_llamacpp::{LlamaCppModel, LoadOptions, QuantizeType, SchemaBackend};

fn model(backend: SchemaBackend) -> LlamaCppModel {
    // Answers are compared with their streamed twins: bit-identical logits need the same batch
    // shapes, so no prompt cache (see `LoadOptions::prompt_cache`).
    let options = LoadOptions::default()
        .with_context_length(4096)
        .with_prompt_cache(false)
        .with_schema_backend(backend);
    LlamaCppModel::load(common::tiny(QuantizeType::Q8_0), options).unwrap()
}

fn structured_request(schema: &Value, options: GenerationOptions) -> ChatRequest {
    ChatRequest::builder()
        .user("Answer in JSON.")
        .response_format(ResponseFormat::json_schema("answer", schema.clone()))
        .options(options.with_max_tokens(600))
        .build()
}

#[tokio::test]
async fn every_generated_schema_gives_valid_json_greedy_and_sampled() {
    let model = model(SchemaBackend::Llguidance);
    let schemas = schema_set(200);
    for (i, schema) in schemas.iter().enumerate() {
        let greedy = model
            .chat(structured_request(
                schema,
                GenerationOptions::deterministic(),
            ))
            .await
            .unwrap_or_else(|e| panic!("schema {i}: {e}\n{schema}"));
        assert_eq!(
            greedy.finish_reason,
            FinishReason::Stop,
            "schema {i}: {}",
            greedy.text()
        );
        assert_valid(schema, greedy.text(), &format!("schema {i} greedy"));
        let sampled = GenerationOptions::default()
            .with_temperature(1.5)
            .with_seed(i as u64);
        let answer = model
            .chat(structured_request(schema, sampled))
            .await
            .unwrap();
        assert_eq!(
            answer.finish_reason,
            FinishReason::Stop,
            "schema {i}: {}",
            answer.text()
        );
        assert_valid(schema, answer.text(), &format!("schema {i} sampled"));
    }
}

#[tokio::test]
async fn llama_cpp_grammars_that_compile_give_valid_json() {
    let model = model(SchemaBackend::LlamaCpp);
    let schemas = schema_set(200);
    let mut compiled = 0;
    for (i, schema) in schemas.iter().enumerate().step_by(4) {
        let sampled = GenerationOptions::default()
            .with_temperature(1.5)
            .with_seed(i as u64);
        match model.chat(structured_request(schema, sampled)).await {
            Ok(answer) => {
                compiled += 1;
                assert_eq!(answer.finish_reason, FinishReason::Stop, "schema {i}");
                assert_valid(schema, answer.text(), &format!("schema {i} (llama.cpp)"));
            }
            Err(e) => assert!(matches!(e, Error::InvalidRequest(..)), "schema {i}: {e:?}"),
        }
    }
    assert!(compiled >= 40, "only {compiled} of 50 schemas compiled");
}

#[tokio::test]
async fn json_mode_gives_an_object_and_streams_it() {
    let model = model(SchemaBackend::Llguidance);
    let request = ChatRequest::builder()
        .user("JSON please")
        .response_format(ResponseFormat::Json)
        .options(
            GenerationOptions::default()
                .with_seed(5)
                .with_max_tokens(600),
        )
        .build();
    let (streamed, answer) = collect_stream(model.chat_stream(request)).await.unwrap();
    assert_eq!(streamed, answer.text());
    let value: Value = serde_json::from_str(answer.text()).unwrap();
    assert!(value.is_object(), "{value}");
}

#[tokio::test]
async fn unusable_schemas_and_grammars_are_typed_errors() {
    for backend in [SchemaBackend::Llguidance, SchemaBackend::LlamaCpp] {
        let model = model(backend);
        for bad in [
            json!({"type": "object", "properties": {"a": {"$ref": "#/$defs/missing"}}}),
            json!({"type": "no-such-type"}),
            json!(17),
        ] {
            let err = model
                .chat(structured_request(&bad, GenerationOptions::deterministic()))
                .await
                .unwrap_err();
            assert!(
                matches!(err, Error::InvalidRequest(..)),
                "{backend:?} {bad}: {err:?}"
            );
        }
        let grammar = ChatRequest::builder()
            .user("x")
            .response_format(ResponseFormat::Grammar {
                gbnf: "root ::= (".into(),
            })
            .build();
        let err = model.chat(grammar).await.unwrap_err();
        assert!(matches!(err, Error::InvalidRequest(..)), "{err:?}");
    }
}

#[tokio::test]
async fn gbnf_grammars_pass_through() {
    let model = model(SchemaBackend::Llguidance);
    for seed in 0..10 {
        let request = ChatRequest::builder()
            .user("yes or no?")
            .response_format(ResponseFormat::Grammar {
                gbnf: r#"root ::= ("yes" | "no") "." "#.into(),
            })
            .options(
                GenerationOptions::default()
                    .with_temperature(2.0)
                    .with_seed(seed),
            )
            .build();
        let answer = model.chat(request).await.unwrap();
        assert!(
            ["yes.", "no."].contains(&answer.text()),
            "{:?}",
            answer.text()
        );
    }
}

#[tokio::test]
async fn byte_level_grammars_never_emit_invalid_utf8() {
    // llama.cpp's grammar sampler lets byte tokens 0xF8-0xFF through a "any character" rule;
    // the mask must not.
    let model = model(SchemaBackend::LlamaCpp);
    for seed in 0..20 {
        let request = ChatRequest::builder()
            .user("anything")
            .response_format(ResponseFormat::Grammar {
                gbnf: r#"root ::= "\"" [^"]{0,40} "\"" "#.into(),
            })
            .options(
                GenerationOptions::default()
                    .with_temperature(8.0)
                    .with_seed(seed),
            )
            .build();
        let answer = model.chat(request).await.unwrap();
        assert!(
            !answer.text().contains('\u{FFFD}'),
            "seed {seed}: {:?}",
            answer.text()
        );
        assert!(answer.text().starts_with('"') && answer.text().ends_with('"'));
    }
}

fn tools(rng: &mut Rng, n: usize) -> Vec<ToolSpec> {
    (0..n)
        .map(|i| {
            let mut defs = Map::new();
            let mut parameters = object(rng, 1, &mut defs);
            if !defs.is_empty() {
                parameters["$defs"] = Value::Object(defs);
            }
            ToolSpec::new(format!("tool_{i}"), format!("Tool number {i}"), parameters)
        })
        .collect()
}

async fn check_forced_calls(model: &LlamaCppModel, rounds: u64) {
    let mut rng = Rng(0xca11);
    for round in 0..rounds {
        let n = 1 + rng.below(3) as usize;
        let declared = tools(&mut rng, n);
        let choice = if round % 2 == 0 {
            ToolChoice::Required
        } else {
            ToolChoice::Named(
                declared[rng.below(declared.len() as u64) as usize]
                    .name
                    .clone(),
            )
        };
        let options = if round % 3 == 0 {
            GenerationOptions::deterministic()
        } else {
            GenerationOptions::default()
                .with_temperature(1.2)
                .with_seed(round)
        };
        let request = ChatRequest::builder()
            .user("Call a tool.")
            .tools(declared.clone())
            .tool_choice(choice.clone())
            .options(options.with_max_tokens(800))
            .build();
        let answer = model.chat(request.clone()).await.unwrap();
        assert_eq!(
            answer.finish_reason,
            FinishReason::ToolCalls,
            "round {round}: {answer:?}"
        );
        assert!(!answer.message.tool_calls.is_empty());
        for call in &answer.message.tool_calls {
            let spec = request
                .tool(&call.name)
                .unwrap_or_else(|| panic!("undeclared {}", call.name));
            if let ToolChoice::Named(name) = &choice {
                assert_eq!(&call.name, name);
            }
            let validator = jsonschema::validator_for(&spec.parameters).unwrap();
            let errors: Vec<String> = validator
                .iter_errors(&call.arguments)
                .map(|e| e.to_string())
                .collect();
            assert!(
                errors.is_empty(),
                "round {round}: {errors:?} {}",
                call.arguments
            );
        }
        let (streamed, done) = collect_stream(model.chat_stream(request)).await.unwrap();
        assert_eq!(streamed, done.text());
        assert_eq!(done.message.tool_calls, answer.message.tool_calls);
    }
}

#[tokio::test]
async fn forced_tool_calls_name_a_declared_tool_with_valid_arguments() {
    // The test model's ChatML template uses Qwen's `<tool_call>{"name", "arguments"}` format.
    check_forced_calls(&model(SchemaBackend::Llguidance), 24).await;
}

#[tokio::test]
async fn forced_tool_calls_work_in_the_wire_format_too() {
    // A template without tool support: calls use slm-core's `<tool_call name="...">` format.
    // The answers are compared with their streamed twins: bit-identical logits need the same
    // batch shapes, so no prompt cache (see `LoadOptions::prompt_cache`).
    let options = LoadOptions::default()
        .with_context_length(4096)
        .with_prompt_cache(false)
        .with_chat_template(
            "{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}<|im_start|>assistant\n",
        );
    let model = LlamaCppModel::load(common::tiny(QuantizeType::Q8_0), options).unwrap();
    let request = ChatRequest::builder()
        .user("hi")
        .tool(ToolSpec::new("now", "The time", json!({"type": "object"})))
        .build();
    assert!(
        model
            .render_prompt(&request)
            .unwrap()
            .contains("<tool_call name=\\\"TOOL_NAME\\\">")
            || model
                .render_prompt(&request)
                .unwrap()
                .contains("<tool_call name=\"TOOL_NAME\">")
    );
    check_forced_calls(&model, 12).await;
}

#[tokio::test]
async fn tool_choice_errors_are_typed() {
    let model = model(SchemaBackend::Llguidance);
    let no_tools = ChatRequest::builder()
        .user("x")
        .tool_choice(ToolChoice::Required)
        .build();
    assert!(matches!(
        model.chat(no_tools).await,
        Err(Error::InvalidRequest(..))
    ));
    let unknown = ChatRequest::builder()
        .user("x")
        .tool(ToolSpec::new("a", "", json!({"type": "object"})))
        .tool_choice(ToolChoice::Named("b".into()))
        .build();
    assert!(matches!(
        model.chat(unknown).await,
        Err(Error::InvalidRequest(..))
    ));
}

#[tokio::test]
async fn check_constraint_accepts_valid_answers_and_rejects_the_rest() {
    let schema = json!({
        "type": "object",
        "properties": {
            "name": {"type": "string", "maxLength": 8},
            "n": {"type": "integer", "minimum": 0, "maximum": 9},
            "tags": {"type": "array", "items": {"enum": ["a", "b"]}, "maxItems": 2}
        },
        "required": ["name", "n"],
        "additionalProperties": false
    });
    let format = ResponseFormat::json_schema("answer", schema);
    for backend in [SchemaBackend::Llguidance, SchemaBackend::LlamaCpp] {
        let model = model(backend);
        let check = |text: &'static str| {
            let model = model.clone();
            let format = format.clone();
            async move { model.check_constraint(&format, text).await.unwrap() }
        };
        for valid in [
            r#"{"name": "ok", "n": 3, "tags": ["a", "b"]}"#,
            r#"{"name": "ok", "n": 0}"#,
        ] {
            assert!(
                check(valid).await.accepted(),
                "{backend:?} rejected {valid}"
            );
        }
        for (invalid, refused_at) in [
            (
                r#"{"name": "ok", "n": 12}"#,
                Some(r#"{"name": "ok", "n": 1"#.len()),
            ),
            (
                r#"{"name": "ok", "n": 1, "tags": ["c"]}"#,
                Some(r#"{"name": "ok", "n": 1, "tags": ["#.len()),
            ),
            (
                r#"{"name": "far too long", "n": 1}"#,
                Some(r#"{"name": "far too"#.len()),
            ),
            (
                r#"{"name": "ok", "n": 1, "x": 1}"#,
                Some(r#"{"name": "ok", "n": 1"#.len()),
            ),
            (r#"{"n": 1, "name": "ok"}"#, Some(1)),
            (r#"{"name": "ok""#, None),
        ] {
            let result = check(invalid).await;
            assert!(!result.accepted(), "{backend:?} accepted {invalid}");
            match refused_at {
                // Refused at the token with the first wrong byte, or (where a backend orders optional
                // properties differently) a little later, never at the end.
                Some(at) => assert!(
                    (at..invalid.len()).contains(&result.valid_up_to),
                    "{backend:?} {invalid}: refused at {}",
                    result.valid_up_to
                ),
                None => assert!(result.is_prefix_of(invalid.len()), "{backend:?} {invalid}"),
            }
        }
        let text = model
            .check_constraint(&ResponseFormat::Text, "anything")
            .await
            .unwrap();
        assert!(text.accepted());
    }
}

#[tokio::test]
async fn llama_cpp_refuses_patterns_it_would_silently_drop() {
    let model = model(SchemaBackend::LlamaCpp);
    for pattern in ["^pkg:", r"^[A-Fa-f\d]{24}$"] {
        let schema = json!({"type": "object", "properties": {"id": {"type": "string", "pattern": pattern}},
                            "required": ["id"]});
        let err = model
            .chat(structured_request(
                &schema,
                GenerationOptions::deterministic(),
            ))
            .await
            .unwrap_err();
        assert!(
            matches!(&err, Error::InvalidRequest(m, ..) if m.contains("pattern")),
            "{pattern}: {err:?}"
        );
        let format = ResponseFormat::json_schema("s", schema);
        assert!(
            model
                .check_constraint(&format, r#"{"id": "x"}"#)
                .await
                .is_err()
        );
    }
    // A pattern it can translate is enforced.
    let schema = json!({"type": "object", "properties": {"id": {"type": "string", "pattern": "^[a-f]{3}-[0-9]{2}$"}},
                        "required": ["id"], "additionalProperties": false});
    for seed in 0..5 {
        let options = GenerationOptions::default()
            .with_temperature(1.5)
            .with_seed(seed);
        let answer = model
            .chat(structured_request(&schema, options))
            .await
            .unwrap();
        assert_valid(&schema, answer.text(), &format!("seed {seed}"));
    }
}
