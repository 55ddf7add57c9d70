//! Chat templates and tool-call formats, shared by slm's local backends (`slm-llamacpp`,
//! `slm-onnx`).
//!
//! A local model is prompted through the Jinja chat template its file carries
//! ([`ChatTemplate`]), rendered with minijinja the way Hugging Face transformers renders it,
//! so every backend that reads a model's own template prompts it the same way. The template
//! also tells which family's tool-call syntax the model writes ([`ToolFormat::detect`]);
//! [`formats`] parses answers in that syntax (whole or streamed, reasoning apart) and builds
//! grammars that force calls in it.
//!
//! ```
//! use slm_chat::ChatTemplate;
//! use slm_core::Message;
//! let t = ChatTemplate::new(ChatTemplate::CHATML, "", "<|im_end|>").unwrap();
//! let prompt = t.render(&[Message::user("Hi")], &[], true).unwrap();
//! assert!(prompt.ends_with("<|im_start|>assistant\n"));
//! ```

#![deny(missing_docs)]
#![forbid(unsafe_code)]

pub mod constraint;
mod error;
pub mod formats;
pub mod template;
pub mod text;

pub use error::ChatError;
pub use formats::{FormatEvent, ParsedOutput, StreamParser, ToolFormat};
pub use template::ChatTemplate;
