//! Chat templates are code from model files, and message contents come from users: a
//! template that loops forever, recurses without end, raises, or writes a huge prompt, and
//! contents full of Jinja syntax or of sheer size, are typed errors (or plain text), never a
//! hang, a stack overflow or a panic.

use std::time::{Duration, Instant};

use slm_core::{ChatModel, ChatRequest, GenerationOptions, Message};
use slm_llamacpp::testing::{TestModelSpec, write_test_model};
use slm_llamacpp::{ChatTemplate, LlamaCppError, LlamaCppModel, LoadOptions};

fn model_with_template(
    template: &str,
) -> (tempfile::TempDir, Result<LlamaCppModel, LlamaCppError>) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tiny.gguf");
    write_test_model(&path, &TestModelSpec::tiny()).unwrap();
    let options = LoadOptions::default()
        .with_context_length(256)
        .with_chat_template(template);
    let model = LlamaCppModel::load(&path, options);
    (dir, model)
}

fn hello() -> ChatRequest {
    ChatRequest::builder()
        .user("Hello")
        .options(GenerationOptions::deterministic().with_max_tokens(2))
        .build()
}

/// Renders on a thread with the 2 MiB stack of Rust threads and tokio workers (callers render
/// on their own thread), within `limit`.
fn render_on_small_stack(
    template: &str,
    messages: Vec<Message>,
    limit: Duration,
) -> Result<String, LlamaCppError> {
    let template = ChatTemplate::new(template, "<s>", "</s>")?;
    let started = Instant::now();
    let result = std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(move || template.render(&messages, &[], true))
        .unwrap()
        .join()
        .expect("rendering never panics");
    assert!(started.elapsed() < limit, "took {:?}", started.elapsed());
    Ok(result?)
}

fn template_error(result: Result<String, LlamaCppError>) -> String {
    match result {
        Err(LlamaCppError::Template(message)) => message,
        other => panic!("expected a template error, got {other:?}"),
    }
}

#[test]
fn a_template_that_does_not_parse_is_a_typed_error_at_load() {
    let (_dir, model) = model_with_template("{% for m in messages %}{{ m.content }");
    assert!(
        matches!(model, Err(LlamaCppError::Template(_))),
        "{model:?}"
    );
}

#[tokio::test]
async fn a_template_that_loops_forever_is_a_typed_error_at_request_time() {
    let endless = "{% for i in range(100000) %}{% for j in range(100000) %}{% for m in messages %}{{ '' }}{% endfor %}{% endfor %}{% endfor %}";
    let (_dir, model) = model_with_template(endless);
    let model = model.unwrap();
    let started = Instant::now();
    let err = model.chat(hello()).await.unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "took {:?}",
        started.elapsed()
    );
    match err {
        slm_core::Error::InvalidRequest(message, ..) => {
            assert!(
                message.contains("chat template") && message.contains("fuel"),
                "{message}"
            );
        }
        other => panic!("{other:?}"),
    }
    // The handle still answers: the render failed before the worker saw anything.
    assert_eq!(model.stats().await.unwrap().requests, 0);
}

#[test]
fn a_template_that_recurses_without_end_stops_before_the_stack_runs_out() {
    let forever = [
        "{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}",
        "{% for m in messages recursive %}{{ loop(messages) }}{% endfor %}",
        "{% macro f(n) %}{% for i in [1] %}{% if true %}{{ f(n ~ 'x') }}{% endif %}{% endfor %}{% endmacro %}{{ f('') }}",
    ];
    for template in forever {
        let message = template_error(render_on_small_stack(
            template,
            vec![Message::user("hi")],
            Duration::from_secs(20),
        ));
        assert!(message.contains("recursion"), "{template}: {message}");
    }
}

#[test]
fn raise_exception_and_runtime_errors_are_typed_errors() {
    let cases = [
        (
            "{{ raise_exception('Only user and assistant roles are supported!') }}",
            "Only user and assistant roles",
        ),
        (
            "{{ messages[0].content.no_such_method() }}",
            "no_such_method",
        ),
        (
            "{{ range(100000000) | list | length }}",
            "too many elements",
        ),
        ("{{ 'x' * 1000000000 }}", "too large"),
    ];
    for (template, needle) in cases {
        let message = template_error(render_on_small_stack(
            template,
            vec![Message::user("hi")],
            Duration::from_secs(20),
        ));
        assert!(
            message.to_lowercase().contains(&needle.to_lowercase()),
            "{template}: {message}"
        );
    }
}

#[tokio::test]
async fn a_huge_prompt_is_refused_before_tokenization() {
    // 50 MB of prompt from a 20-byte template: refused by size, without tokenizing it.
    let (_dir, model) = model_with_template("{{ 'x' * 50000000 }}");
    let model = model.unwrap();
    let started = Instant::now();
    let err = model.chat(hello()).await.unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "took {:?}",
        started.elapsed()
    );
    assert!(
        matches!(&err, slm_core::Error::InvalidRequest(m, ..) if m.contains("bytes")),
        "{err:?}"
    );
    // The same for a huge message through the normal template.
    let (_dir, model) = model_with_template(ChatTemplate::CHATML);
    let model = model.unwrap();
    let huge = ChatRequest::builder()
        .user("word ".repeat(2_000_000))
        .build();
    let err = model.chat(huge).await.unwrap_err();
    assert!(
        matches!(&err, slm_core::Error::InvalidRequest(m, ..) if m.contains("bytes")),
        "{err:?}"
    );
    assert!(model.chat(hello()).await.is_ok());
}

#[test]
fn message_contents_are_text_never_template_code() {
    let hostile =
        "{{ raise_exception('boom') }}{% for x in range(99999999) %}{% endfor %}{# #}\u{0}\u{fffd}";
    let prompt = render_on_small_stack(
        ChatTemplate::CHATML,
        vec![Message::system(hostile), Message::user(hostile)],
        Duration::from_secs(5),
    )
    .unwrap();
    assert_eq!(prompt.matches(hostile).count(), 2, "{prompt}");
}

#[test]
fn unpaired_surrogates_in_json_are_refused_or_replaced_never_a_panic() {
    // Rust strings cannot hold a lone surrogate: serde_json refuses one in a request body,
    // and a pair becomes its character.
    let lone = serde_json::from_str::<Message>(r#"{"role": "user", "content": "a\ud800b"}"#);
    assert!(lone.is_err());
    let pair: Message =
        serde_json::from_str(r#"{"role": "user", "content": "\ud83d\ude80"}"#).unwrap();
    let prompt =
        render_on_small_stack(ChatTemplate::CHATML, vec![pair], Duration::from_secs(5)).unwrap();
    assert!(prompt.contains('🚀'));
}
