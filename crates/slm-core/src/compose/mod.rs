//! Compositions of models that are themselves [`ChatModel`](crate::ChatModel)s.

mod balanced;
mod draft_refine;
mod fallback;
mod policy;

pub use balanced::{Balanced, ReplicaStats};
pub use draft_refine::DraftRefine;
pub use fallback::{Fallback, FallbackWhen};
pub use policy::EscalationPolicy;
