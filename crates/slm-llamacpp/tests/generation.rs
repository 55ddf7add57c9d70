//! Generation behaviour: stop strings, limits, measured usage and timings, queueing,
//! cancellation and request validation.

mod common;

use std::time::Duration;

use futures::StreamExt;
use slm_core::{
    ChatEvent, ChatModel, ChatRequest, Error, FinishReason, GenerationOptions, collect_stream,
};
use slm_llamacpp::{LlamaCppModel, LoadOptions};

fn model() -> LlamaCppModel {
    LlamaCppModel::load(
        common::tiny(slm_llamacpp::QuantizeType::Q8_0),
        LoadOptions::default(),
    )
    .unwrap()
}

fn ask(options: GenerationOptions) -> ChatRequest {
    ChatRequest::builder()
        .user("Tell me about the sea.")
        .options(options)
        .build()
}

#[tokio::test]
async fn stop_strings_end_the_answer_before_them() {
    let model = model();
    let free = model
        .chat(ask(GenerationOptions::deterministic().with_max_tokens(60)))
        .await
        .unwrap();
    let text = free.text().to_string();
    // A stop string taken from the middle of the free answer, at its first occurrence.
    let chars: Vec<char> = text.chars().collect();
    assert!(chars.len() >= 20, "{text:?}");
    let (start, stop) = (10..chars.len() - 3)
        .map(|i| (i, chars[i..i + 3].iter().collect::<String>()))
        .find(|(i, s)| {
            let byte = text.char_indices().nth(*i).unwrap().0;
            text.find(s.as_str()) == Some(byte)
        })
        .expect("a substring that first occurs in the middle");
    let expected: String = chars[..start].iter().collect();
    let options = GenerationOptions::deterministic()
        .with_max_tokens(60)
        .with_stop(stop.clone());
    let stopped = model.chat(ask(options.clone())).await.unwrap();
    assert_eq!(stopped.text(), expected, "stop {stop:?}");
    assert_eq!(stopped.finish_reason, FinishReason::Stop);
    assert!(stopped.usage.completion_tokens < free.usage.completion_tokens);
    let (streamed, _) = collect_stream(model.chat_stream(ask(options)))
        .await
        .unwrap();
    assert_eq!(streamed, expected);
}

#[tokio::test]
async fn usage_and_timings_are_measured() {
    let model = model();
    let request = ask(GenerationOptions::deterministic().with_max_tokens(24));
    let prompt_tokens = model.prompt_tokens(&request).await.unwrap();
    let answer = model.chat(request).await.unwrap();
    assert_eq!(answer.usage.prompt_tokens as usize, prompt_tokens);
    assert_eq!(answer.usage.completion_tokens, 24);
    assert_eq!(answer.finish_reason, FinishReason::Length);
    assert_eq!(answer.model, "tiny-Q8_0");
    let t = answer.timings;
    assert!(t.prompt_eval > Duration::ZERO);
    assert!(t.prep > Duration::ZERO);
    assert!(t.time_to_first_token >= t.prompt_eval);
    assert!(t.total >= t.time_to_first_token);
    assert!(t.prompt_tokens_per_second.unwrap() > 0.0);
    assert!(t.decode_tokens_per_second.unwrap() > 0.0);
}

#[tokio::test]
async fn the_context_end_stops_generation_with_length() {
    let model = LlamaCppModel::load(
        common::tiny(slm_llamacpp::QuantizeType::Q8_0),
        LoadOptions::default().with_context_length(48),
    )
    .unwrap();
    let request = ChatRequest::builder()
        .user("Hi")
        .options(GenerationOptions::deterministic())
        .build();
    let prompt = model.prompt_tokens(&request).await.unwrap();
    let answer = model.chat(request).await.unwrap();
    assert_eq!(answer.finish_reason, FinishReason::Length);
    assert!(prompt + answer.usage.completion_tokens as usize <= 48 + 1);
}

#[tokio::test]
async fn concurrent_callers_queue_and_get_their_own_answers() {
    let model = model();
    let prompts = ["one", "two", "three", "four"];
    let mut sequential = Vec::new();
    for p in prompts {
        let r = ChatRequest::builder()
            .user(p)
            .options(GenerationOptions::deterministic().with_max_tokens(16))
            .build();
        sequential.push(model.chat(r).await.unwrap().text().to_string());
    }
    let tasks: Vec<_> = prompts
        .iter()
        .map(|p| {
            let model = model.clone();
            let r = ChatRequest::builder()
                .user(*p)
                .options(GenerationOptions::deterministic().with_max_tokens(16))
                .build();
            tokio::spawn(async move { model.chat(r).await })
        })
        .collect();
    assert_eq!(tasks.len(), sequential.len());
    let mut queued = Duration::ZERO;
    for (task, expected) in tasks.into_iter().zip(&sequential) {
        let answer = task.await.unwrap().unwrap();
        assert_eq!(answer.text(), expected);
        queued += answer.timings.queue;
    }
    assert!(
        queued > Duration::ZERO,
        "later callers waited for the model"
    );
}

#[tokio::test]
async fn a_dropped_stream_frees_the_model() {
    let model = model();
    let mut stream = model.chat_stream(ChatRequest::builder().user("Go on forever").build());
    let first = stream.next().await.unwrap().unwrap();
    assert!(matches!(first, ChatEvent::TextDelta(_)));
    drop(stream);
    let next = tokio::time::timeout(
        Duration::from_secs(10),
        model.chat(ask(GenerationOptions::deterministic().with_max_tokens(4))),
    )
    .await
    .expect("the worker moved on")
    .unwrap();
    assert_eq!(next.usage.completion_tokens, 4);
}

#[tokio::test]
async fn bad_requests_are_typed_errors() {
    let model = model();
    let empty = model.chat(ChatRequest::default()).await.unwrap_err();
    assert!(matches!(empty, Error::InvalidRequest(..)), "{empty:?}");
    for options in [
        GenerationOptions::default().with_temperature(-0.5),
        GenerationOptions {
            top_p: Some(1.5),
            ..Default::default()
        },
    ] {
        let err = model.chat(ask(options)).await.unwrap_err();
        assert!(matches!(err, Error::InvalidRequest(..)), "{err:?}");
    }
    let raising = LlamaCppModel::load(
        common::tiny_f32(),
        LoadOptions::default().with_chat_template("{{ raise_exception('no system messages') }}"),
    )
    .unwrap();
    let err = raising
        .chat(ask(GenerationOptions::default()))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::InvalidRequest(m, ..) if m.contains("no system messages")),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_template_override_changes_the_prompt() {
    let model = LlamaCppModel::load(
        common::tiny_f32(),
        LoadOptions::default().with_chat_template(
            "{% for m in messages %}[{{ m.role }}] {{ m.content }}\n{% endfor %}[assistant] ",
        ),
    )
    .unwrap();
    let request = ask(GenerationOptions::deterministic().with_max_tokens(3));
    assert_eq!(
        model.render_prompt(&request).unwrap(),
        "[user] Tell me about the sea.\n[assistant] "
    );
    assert_eq!(
        model.chat(request).await.unwrap().usage.completion_tokens,
        3
    );
}

#[tokio::test]
async fn sampled_byte_level_output_streams_whole_characters() {
    // High temperature over a byte-level vocabulary emits raw bytes, including lone UTF-8
    // lead and continuation bytes: deltas stay valid text and add up to the answer.
    let model = model();
    let options = GenerationOptions::default()
        .with_temperature(5.0)
        .with_seed(3)
        .with_max_tokens(300);
    let mut stream =
        model.chat_stream(ChatRequest::builder().user("é€😀").options(options).build());
    let mut text = String::new();
    let mut done = None;
    while let Some(event) = stream.next().await {
        match event.unwrap() {
            ChatEvent::TextDelta(d) => text.push_str(&d),
            ChatEvent::Done(r) => done = Some(r),
            ChatEvent::ToolCallDelta { .. } | ChatEvent::ReasoningDelta(_) => unreachable!(),
        }
    }
    let done = done.unwrap();
    assert_eq!(text, done.text());
    assert!(!text.is_ascii(), "{text:?}");
}

#[test]
fn the_handle_is_send_sync_clone() {
    fn check<T: Send + Sync + Clone + 'static>() {}
    check::<LlamaCppModel>();
    let _: std::sync::Arc<dyn ChatModel> = std::sync::Arc::new(model());
}

#[test]
fn capabilities_describe_the_model() {
    let caps = model().capabilities();
    assert_eq!(caps.context_length, Some(2048));
    assert!(caps.streaming && caps.tools && caps.json_schema && caps.grammar);
    assert!(!caps.batching);
}
