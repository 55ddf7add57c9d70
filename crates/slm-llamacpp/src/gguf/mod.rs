//! GGUF files: read and validate headers, write files, and inspect models.
//!
//! The reader and writer are pure Rust: a file is checked here before llama.cpp ever sees it.
//!
//! ```
//! use slm_llamacpp::gguf::inspect;
//! use slm_llamacpp::testing::{TestModelSpec, write_test_model};
//! let dir = tempfile::tempdir().unwrap();
//! let path = dir.path().join("tiny.gguf");
//! write_test_model(&path, &TestModelSpec::tiny()).unwrap();
//! let info = inspect(&path).unwrap();
//! assert_eq!(info.architecture, "llama");
//! assert!(info.chat_template.is_some());
//! ```

mod inspect;
mod reader;
mod value;
mod writer;

pub use inspect::{GgufInfo, MemoryEstimate, TensorTypeStats, inspect};
pub use reader::{DEFAULT_ALIGNMENT, GGUF_MAGIC, GgufHeader, GgufTensorInfo, SUPPORTED_VERSIONS};
pub use value::{GgmlType, GgufValue};
pub use writer::GgufWriter;
