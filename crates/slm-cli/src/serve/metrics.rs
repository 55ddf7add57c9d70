//! `GET /metrics`: counters and histograms in Prometheus' text format (version 0.0.4), written
//! by hand (a few families, no registry needed).

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::time::Duration;

/// Upper bounds (seconds) of the latency and time-to-first-token buckets.
const BUCKETS: [f64; 16] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0,
];

#[derive(Debug, Clone, Default)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

impl Histogram {
    fn observe(&mut self, seconds: f64) {
        for (count, bound) in self.counts.iter_mut().zip(BUCKETS) {
            if seconds <= bound {
                *count += 1;
            }
        }
        self.count += 1;
        self.sum += seconds;
    }
}

#[derive(Debug, Default)]
struct Families {
    http: BTreeMap<(String, u16), u64>,
    chat: BTreeMap<(String, u16), u64>,
    prompt_tokens: BTreeMap<String, u64>,
    completion_tokens: BTreeMap<String, u64>,
    ttft: BTreeMap<String, Histogram>,
    latency: BTreeMap<String, Histogram>,
}

/// The server's counters.
#[derive(Debug, Default)]
pub struct Metrics {
    families: Mutex<Families>,
}

/// A model's gauges at the time of a scrape.
#[derive(Debug, Clone)]
pub struct ModelGauges {
    /// The model's name.
    pub model: String,
    /// Whether it answers (loaded).
    pub ready: bool,
    /// Requests it is answering now.
    pub in_flight: usize,
    /// Requests waiting for one of its slots.
    pub queued: usize,
    /// Requests it answers at once (0 until loaded).
    pub slots: usize,
}

/// What a finished chat request reports.
#[derive(Debug, Clone, Default)]
pub struct ChatOutcome {
    /// The model's name.
    pub model: String,
    /// The HTTP status it got (499: the client went away first).
    pub status: u16,
    /// Prompt tokens, when the model answered.
    pub prompt_tokens: u32,
    /// Generated tokens, when the model answered.
    pub completion_tokens: u32,
    /// From arrival to the first token, when one came.
    pub time_to_first_token: Option<Duration>,
    /// From arrival to the end.
    pub latency: Duration,
}

impl Metrics {
    fn families(&self) -> std::sync::MutexGuard<'_, Families> {
        // A panic while holding the lock leaves counts that are still counts.
        self.families.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Counts one HTTP answer.
    pub fn http(&self, route: &str, status: u16) {
        *self
            .families()
            .http
            .entry((route.to_string(), status))
            .or_default() += 1;
    }

    /// Records a finished chat request.
    pub fn chat(&self, outcome: &ChatOutcome) {
        let mut f = self.families();
        *f.chat
            .entry((outcome.model.clone(), outcome.status))
            .or_default() += 1;
        *f.prompt_tokens.entry(outcome.model.clone()).or_default() +=
            u64::from(outcome.prompt_tokens);
        *f.completion_tokens
            .entry(outcome.model.clone())
            .or_default() += u64::from(outcome.completion_tokens);
        if let Some(ttft) = outcome.time_to_first_token {
            f.ttft
                .entry(outcome.model.clone())
                .or_default()
                .observe(ttft.as_secs_f64());
        }
        f.latency
            .entry(outcome.model.clone())
            .or_default()
            .observe(outcome.latency.as_secs_f64());
    }

    /// The text a scrape returns.
    pub fn render(&self, models: &[ModelGauges]) -> String {
        let f = self.families();
        let mut out = String::new();
        family(
            &mut out,
            "slm_http_requests_total",
            "counter",
            "HTTP answers by route and status.",
        );
        for ((route, status), n) in &f.http {
            sample(
                &mut out,
                "slm_http_requests_total",
                &[("route", route), ("status", &status.to_string())],
                *n as f64,
            );
        }
        family(
            &mut out,
            "slm_chat_requests_total",
            "counter",
            "Chat completions by model and final status (499: the client went away, 504: deadline).",
        );
        for ((model, status), n) in &f.chat {
            sample(
                &mut out,
                "slm_chat_requests_total",
                &[("model", model), ("status", &status.to_string())],
                *n as f64,
            );
        }
        for (name, help, map) in [
            (
                "slm_prompt_tokens_total",
                "Prompt tokens read.",
                &f.prompt_tokens,
            ),
            (
                "slm_completion_tokens_total",
                "Tokens generated.",
                &f.completion_tokens,
            ),
        ] {
            family(&mut out, name, "counter", help);
            for (model, n) in map {
                sample(&mut out, name, &[("model", model)], *n as f64);
            }
        }
        for (name, help, map) in [
            (
                "slm_time_to_first_token_seconds",
                "From a request's arrival to its first generated token.",
                &f.ttft,
            ),
            (
                "slm_request_duration_seconds",
                "From a request's arrival to the end of its answer.",
                &f.latency,
            ),
        ] {
            family(&mut out, name, "histogram", help);
            for (model, h) in map {
                histogram(&mut out, name, model, h);
            }
        }
        type Gauge = fn(&ModelGauges) -> f64;
        let gauges: [(&str, &str, Gauge); 4] = [
            ("slm_requests_in_flight", "Requests being answered.", |g| {
                g.in_flight as f64
            }),
            ("slm_requests_queued", "Requests waiting for a slot.", |g| {
                g.queued as f64
            }),
            (
                "slm_model_slots",
                "Requests a model answers at once.",
                |g| g.slots as f64,
            ),
            ("slm_model_ready", "1 once the model is loaded.", |g| {
                f64::from(u8::from(g.ready))
            }),
        ];
        for (name, help, value) in gauges {
            family(&mut out, name, "gauge", help);
            for g in models {
                sample(&mut out, name, &[("model", &g.model)], value(g));
            }
        }
        out
    }
}

fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

fn sample(out: &mut String, name: &str, labels: &[(&str, &str)], value: f64) {
    let labels: Vec<String> = labels
        .iter()
        .map(|(k, v)| format!("{k}=\"{}\"", escape(v)))
        .collect();
    let _ = writeln!(out, "{name}{{{}}} {value}", labels.join(","));
}

fn histogram(out: &mut String, name: &str, model: &str, h: &Histogram) {
    for (count, bound) in h.counts.iter().zip(BUCKETS) {
        sample(
            out,
            &format!("{name}_bucket"),
            &[("model", model), ("le", &bound.to_string())],
            *count as f64,
        );
    }
    sample(
        out,
        &format!("{name}_bucket"),
        &[("model", model), ("le", "+Inf")],
        h.count as f64,
    );
    sample(out, &format!("{name}_sum"), &[("model", model)], h.sum);
    sample(
        out,
        &format!("{name}_count"),
        &[("model", model)],
        h.count as f64,
    );
}

/// Label values escape `\`, `"` and newlines.
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scrapes_show_counts_histograms_and_gauges() {
        let m = Metrics::default();
        m.http("/v1/chat/completions", 200);
        m.http("/v1/chat/completions", 200);
        m.chat(&ChatOutcome {
            model: "smol\"lm".into(),
            status: 200,
            prompt_tokens: 12,
            completion_tokens: 5,
            time_to_first_token: Some(Duration::from_millis(30)),
            latency: Duration::from_millis(700),
        });
        let text = m.render(&[ModelGauges {
            model: "smol\"lm".into(),
            ready: true,
            in_flight: 3,
            queued: 1,
            slots: 8,
        }]);
        assert!(
            text.contains(
                "slm_http_requests_total{route=\"/v1/chat/completions\",status=\"200\"} 2"
            )
        );
        assert!(text.contains("slm_prompt_tokens_total{model=\"smol\\\"lm\"} 12"));
        assert!(text.contains(
            "slm_time_to_first_token_seconds_bucket{model=\"smol\\\"lm\",le=\"0.025\"} 0"
        ));
        assert!(text.contains(
            "slm_time_to_first_token_seconds_bucket{model=\"smol\\\"lm\",le=\"0.05\"} 1"
        ));
        assert!(
            text.contains("slm_request_duration_seconds_bucket{model=\"smol\\\"lm\",le=\"0.5\"} 0")
        );
        assert!(text.contains("slm_request_duration_seconds_count{model=\"smol\\\"lm\"} 1"));
        assert!(text.contains("slm_requests_in_flight{model=\"smol\\\"lm\"} 3"));
        assert!(text.contains("slm_model_ready{model=\"smol\\\"lm\"} 1"));
        assert!(text.contains("# TYPE slm_request_duration_seconds histogram"));
    }
}
