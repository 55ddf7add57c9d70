//! Streaming parse cost per generated token: a realistic 200-token answer (prose, then one
//! call) fed in token-sized pieces, for Hermes, Llama 3 and Gemma 3.
//!
//! `cargo bench -p slm-chat --bench formats`; the time per iteration divided by 200 is the
//! cost per token (target: under 1 µs).

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use slm_chat::formats::ToolFormat;
use slm_core::ToolSpec;

const TOKENS: usize = 200;

/// The answer as token-sized pieces: words of prose, then the call in 4-byte pieces.
fn answer(call: &str) -> Vec<String> {
    let words = "I will look up the current weather for the city you asked about , and then \
                 summarise it for you in a short and friendly way . The forecast service needs \
                 the name of the city and , optionally , the unit of temperature you prefer ."
        .split(' ')
        .collect::<Vec<_>>();
    let mut call_pieces = Vec::new();
    let mut rest = call;
    while !rest.is_empty() {
        let mut n = 4.min(rest.len());
        while !rest.is_char_boundary(n) {
            n += 1;
        }
        call_pieces.push(rest[..n].to_string());
        rest = &rest[n..];
    }
    let prose = TOKENS - call_pieces.len();
    let mut pieces: Vec<String> = (0..prose)
        .map(|i| format!(" {}", words[i % words.len()]))
        .collect();
    pieces.push("\n".into());
    pieces.pop();
    pieces.extend(call_pieces);
    assert_eq!(pieces.len(), TOKENS);
    pieces
}

fn bench(c: &mut Criterion) {
    let tools = [ToolSpec::new(
        "get_weather",
        "Current weather for a city",
        serde_json::json!({"type": "object", "properties": {"city": {"type": "string"}, "unit": {"type": "string"}}}),
    )];
    let cases = [
        (
            ToolFormat::Hermes,
            "\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Oslo\", \"unit\": \"celsius\"}}\n</tool_call>",
        ),
        (
            ToolFormat::Llama3,
            "{\"name\": \"get_weather\", \"parameters\": {\"city\": \"Oslo\", \"unit\": \"celsius\"}}",
        ),
        (
            ToolFormat::Gemma3,
            "\n```tool_code\nget_weather(city=\"Oslo\", unit=\"celsius\")\n```",
        ),
    ];
    let mut group = c.benchmark_group("stream_parse_200_tokens");
    group.throughput(Throughput::Elements(TOKENS as u64));
    for (format, call) in cases {
        // Llama 3 calls only at the start of the answer: the call comes first there.
        let pieces = if format == ToolFormat::Llama3 {
            let mut p = answer(call);
            let n = p.iter().position(|s| s.starts_with('{')).unwrap();
            p.rotate_left(n);
            p
        } else {
            answer(call)
        };
        let (_, check) = {
            let mut parser = format.stream_parser(&tools, false);
            for p in &pieces {
                parser.push(p);
            }
            parser.finish()
        };
        assert_eq!(check.tool_calls.len(), 1, "{format:?}: {check:?}");
        group.bench_function(format.name(), |b| {
            b.iter(|| {
                let mut parser = format.stream_parser(&tools, false);
                let mut events = 0;
                for p in &pieces {
                    events += parser.push(p).len();
                }
                let (rest, out) = parser.finish();
                (events + rest.len(), out)
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
