//! Compositions of models that are themselves [`ChatModel`](crate::ChatModel)s.

mod draft_refine;
mod fallback;
mod policy;

pub use draft_refine::DraftRefine;
pub use fallback::{Fallback, FallbackWhen};
pub use policy::EscalationPolicy;
