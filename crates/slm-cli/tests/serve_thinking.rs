//! Thinking through `slm serve`, end to end over loopback: a generated model carrying
//! DeepSeek-R1's real template (which opens `<think>` in every generation prompt) is served,
//! and slm-remote's client sends the thinking options the way llama.cpp's server takes them
//! (`chat_template_kwargs.enable_thinking`, `thinking_budget_tokens`) and reads the server's
//! `reasoning_content` back as the answer's `reasoning`, whole and streamed.

mod serve_support;

use std::path::Path;

use futures::StreamExt;
use serve_support::Server;
use slm_core::{
    ChatEvent, ChatModel, ChatRequest, ChatResponse, FinishReason, GenerationOptions, Thinking,
};
use slm_llamacpp::testing::{TestModelSpec, write_test_model};

fn r1_template() -> String {
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join(
        "../slm-chat/tests/fixtures/formats/templates/deepseek-ai-DeepSeek-R1-Distill-Qwen-32B.jinja",
    );
    std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()))
}

async fn streamed(model: &dyn ChatModel, request: ChatRequest) -> (String, ChatResponse) {
    let mut stream = model.chat_stream(request);
    let mut reasoning = String::new();
    while let Some(event) = stream.next().await {
        match event.unwrap() {
            ChatEvent::ReasoningDelta(piece) => reasoning.push_str(&piece),
            ChatEvent::Done(answer) => return (reasoning, *answer),
            _ => {}
        }
    }
    panic!("the stream ended without an answer");
}

#[tokio::test(flavor = "multi_thread")]
async fn thinking_options_and_reasoning_travel_through_slm_serve() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("r1.gguf");
    let spec = TestModelSpec {
        chat_template: Some(r1_template()),
        ..TestModelSpec::tiny()
    };
    write_test_model(&path, &spec).unwrap();
    let path = path.display().to_string();
    let mut server = Server::start(&["--model", &path, "--no-prompt-cache"]);
    server.ready().await;
    let remote = slm_remote::OpenAiCompatibleModel::new(server.v1(), "r1").unwrap();
    let ask = |thinking: Option<Thinking>| {
        let mut options = GenerationOptions::deterministic().with_max_tokens(40);
        options.thinking = thinking;
        ChatRequest::builder().user("Hi").options(options).build()
    };

    // Uncapped: the random model never closes the section the prompt opened.
    let free = remote.chat(ask(None)).await.unwrap();
    assert_eq!(free.finish_reason, FinishReason::Length, "{free:?}");
    let free_reasoning = free.message.reasoning.clone().unwrap_or_default();
    assert!(!free_reasoning.is_empty(), "{free:?}");
    assert!(free.text().is_empty(), "{:?}", free.text());
    let (deltas, streamed_free) = streamed(&remote, ask(None)).await;
    assert_eq!(deltas, free_reasoning);
    assert_eq!(streamed_free.message.reasoning, free.message.reasoning);

    // A budget of 6 tokens: the same greedy start, closed by the server, then an answer.
    let capped = remote.chat(ask(Some(Thinking::budget(6)))).await.unwrap();
    let reasoning = capped.message.reasoning.clone().unwrap_or_default();
    assert!(!reasoning.is_empty(), "{capped:?}");
    assert!(reasoning.len() < free_reasoning.len(), "{reasoning:?}");
    assert!(
        free_reasoning.starts_with(reasoning.trim_end()),
        "{reasoning:?}"
    );
    assert!(!capped.text().trim().is_empty(), "{capped:?}");
    let (deltas, streamed_capped) = streamed(&remote, ask(Some(Thinking::budget(6)))).await;
    assert_eq!(deltas, reasoning);
    assert_eq!(streamed_capped.text(), capped.text());

    // Off: the prompt's section is closed before the answer; no reasoning comes back.
    let off = remote.chat(ask(Some(Thinking::off()))).await.unwrap();
    assert_eq!(off.message.reasoning, None, "{off:?}");
    assert!(!off.text().is_empty(), "{off:?}");
}
