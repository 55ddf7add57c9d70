//! Logging and tracing. The library opens a `tracing` span per run (`eval.run`: dataset, its
//! hash, model, track, results path) and per case (`eval.case`: index, latency, pass, error);
//! `compare` runs in an `eval.compare` span holding the decision.
//!
//! - stderr shows events at the `RUST_LOG` level (default `warn`);
//! - with the `otlp` feature and `OTEL_EXPORTER_OTLP_ENDPOINT` (or
//!   `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) set, the spans are exported over OTLP/HTTP protobuf,
//!   with `OTEL_EXPORTER_OTLP_HEADERS` as headers. For Langfuse:
//!   `OTEL_EXPORTER_OTLP_ENDPOINT=https://cloud.langfuse.com/api/public/otel` and
//!   `OTEL_EXPORTER_OTLP_HEADERS="Authorization=Basic <base64 of public_key:secret_key>"`.

use tracing_subscriber::EnvFilter;
use tracing_subscriber::Layer;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// Keeps the exporter alive until the end of `main`, then flushes it.
pub struct Telemetry {
    #[cfg(feature = "otlp")]
    provider: Option<opentelemetry_sdk::trace::SdkTracerProvider>,
}

/// Installs the subscriber. Call before starting the async runtime (the OTLP exporter's HTTP
/// client must not be created inside it).
pub fn init() -> Telemetry {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        // llama.cpp's own warnings (one per tensor when quantizing) and the quantizer's
        // per-tensor fallbacks are summarised by the commands themselves.
        EnvFilter::new("warn,llama_cpp_2=error,llama-cpp-2=error,slm_llamacpp::quantize=error")
    });
    let fmt = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_filter(EventChecked(filter));
    #[cfg(feature = "otlp")]
    {
        let (otel, provider) = match otlp::layer() {
            Some((layer, provider)) => (Some(layer), Some(provider)),
            None => (None, None),
        };
        let _ = tracing_subscriber::registry()
            .with(fmt)
            .with(otel)
            .try_init();
        Telemetry { provider }
    }
    #[cfg(not(feature = "otlp"))]
    {
        let _ = tracing_subscriber::registry().with(fmt).try_init();
        Telemetry {}
    }
}

impl Drop for Telemetry {
    fn drop(&mut self) {
        #[cfg(feature = "otlp")]
        if let Some(provider) = self.provider.take()
            && let Err(e) = provider.shutdown()
        {
            eprintln!("warning: flushing OTLP spans failed: {e}");
        }
    }
}

#[cfg(feature = "otlp")]
mod otlp {
    use opentelemetry::trace::TracerProvider as _;
    use opentelemetry_sdk::Resource;
    use opentelemetry_sdk::trace::SdkTracerProvider;
    use tracing::Subscriber;
    use tracing_subscriber::Layer;
    use tracing_subscriber::filter::Targets;
    use tracing_subscriber::registry::LookupSpan;

    const ENDPOINT_VARS: [&str; 2] = [
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    ];

    /// The OTLP layer (spans of `slm-eval` and of `slm eval` at INFO and above), when an
    /// endpoint is configured.
    pub fn layer<S>() -> Option<(Box<dyn Layer<S> + Send + Sync>, SdkTracerProvider)>
    where
        S: Subscriber + for<'a> LookupSpan<'a> + Send + Sync,
    {
        if !ENDPOINT_VARS.iter().any(|v| std::env::var_os(v).is_some()) {
            return None;
        }
        let exporter = match opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .build()
        {
            Ok(exporter) => exporter,
            Err(e) => {
                eprintln!("warning: OTLP export disabled: {e}");
                return None;
            }
        };
        let provider = SdkTracerProvider::builder()
            .with_batch_exporter(exporter)
            .with_resource(Resource::builder().with_service_name("slm-eval").build())
            .build();
        let tracer = provider.tracer("slm-eval");
        let layer = tracing_opentelemetry::layer()
            .with_tracer(tracer)
            .with_filter(
                Targets::new()
                    .with_target("slm_eval", tracing::Level::INFO)
                    .with_target("slm::eval", tracing::Level::INFO),
            );
        Some((Box::new(layer), provider))
    }
}

/// An [`EnvFilter`] that also checks every event as it is dispatched: llama-cpp-2 emits some
/// of llama.cpp's lines (those llama.cpp wrote without a newline) without asking `enabled`
/// first, which a per-layer filter alone lets through whatever the level.
struct EventChecked(EnvFilter);

impl<S> tracing_subscriber::layer::Filter<S> for EventChecked
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
{
    fn enabled(
        &self,
        meta: &tracing::Metadata<'_>,
        cx: &tracing_subscriber::layer::Context<'_, S>,
    ) -> bool {
        tracing_subscriber::layer::Filter::enabled(&self.0, meta, cx)
    }

    fn callsite_enabled(
        &self,
        meta: &'static tracing::Metadata<'static>,
    ) -> tracing::subscriber::Interest {
        tracing_subscriber::layer::Filter::<S>::callsite_enabled(&self.0, meta)
    }

    fn event_enabled(
        &self,
        event: &tracing::Event<'_>,
        cx: &tracing_subscriber::layer::Context<'_, S>,
    ) -> bool {
        tracing_subscriber::layer::Filter::enabled(&self.0, event.metadata(), cx)
    }

    fn max_level_hint(&self) -> Option<tracing::level_filters::LevelFilter> {
        tracing_subscriber::layer::Filter::<S>::max_level_hint(&self.0)
    }

    fn on_new_span(
        &self,
        attrs: &tracing::span::Attributes<'_>,
        id: &tracing::span::Id,
        cx: tracing_subscriber::layer::Context<'_, S>,
    ) {
        tracing_subscriber::layer::Filter::on_new_span(&self.0, attrs, id, cx)
    }

    fn on_record(
        &self,
        id: &tracing::span::Id,
        values: &tracing::span::Record<'_>,
        cx: tracing_subscriber::layer::Context<'_, S>,
    ) {
        tracing_subscriber::layer::Filter::on_record(&self.0, id, values, cx)
    }

    fn on_enter(&self, id: &tracing::span::Id, cx: tracing_subscriber::layer::Context<'_, S>) {
        tracing_subscriber::layer::Filter::on_enter(&self.0, id, cx)
    }

    fn on_exit(&self, id: &tracing::span::Id, cx: tracing_subscriber::layer::Context<'_, S>) {
        tracing_subscriber::layer::Filter::on_exit(&self.0, id, cx)
    }

    fn on_close(&self, id: tracing::span::Id, cx: tracing_subscriber::layer::Context<'_, S>) {
        tracing_subscriber::layer::Filter::on_close(&self.0, id, cx)
    }
}
