//! When a draft should go to the larger model.

use std::fmt;
use std::sync::Arc;

use crate::{ChatRequest, ChatResponse};

/// Phrases by which a grounded model says it cannot answer from its context.
const INSUFFICIENT_MARKERS: &[&str] = &[
    "insufficient",
    "not enough information",
    "not enough context",
    "cannot answer",
    "can't answer",
    "unable to answer",
    "does not contain",
    "doesn't contain",
    "i don't know",
    "i do not know",
    "no information",
];

type Predicate = Arc<dyn Fn(&ChatRequest, &ChatResponse) -> bool + Send + Sync>;

/// Decides, from the request and the small model's draft, whether the large model refines it.
///
/// ```
/// use slm_core::{ChatRequest, ChatResponse, EscalationPolicy};
/// let req = ChatRequest::builder().user("q").build();
/// let draft = ChatResponse::from_text("small", "The context is insufficient to answer.");
/// assert!(EscalationPolicy::DraftSaysInsufficient.should_escalate(&req, &draft));
/// assert!(!EscalationPolicy::DraftLongerThan(100).should_escalate(&req, &draft));
/// let custom = EscalationPolicy::custom(|_, d| d.text().contains("TODO"));
/// assert!(!custom.should_escalate(&req, &draft));
/// ```
#[derive(Clone)]
pub enum EscalationPolicy {
    /// Always refine.
    Always,
    /// Never refine (the draft is the answer).
    Never,
    /// Refine when the draft has more than this many characters (the hybrid pipeline's usual heuristic).
    DraftLongerThan(usize),
    /// Refine when the draft says the context is insufficient or that it cannot answer.
    DraftSaysInsufficient,
    /// Refine when any of these policies says so.
    Any(Vec<EscalationPolicy>),
    /// Refine when the predicate returns true.
    Custom(Predicate),
}

impl EscalationPolicy {
    /// A policy from a predicate.
    ///
    /// ```
    /// let p = slm_core::EscalationPolicy::custom(|_, _| true);
    /// assert!(p.should_escalate(&Default::default(), &Default::default()));
    /// ```
    pub fn custom(f: impl Fn(&ChatRequest, &ChatResponse) -> bool + Send + Sync + 'static) -> Self {
        Self::Custom(Arc::new(f))
    }

    /// Whether this draft should be refined.
    ///
    /// ```
    /// use slm_core::EscalationPolicy;
    /// assert!(EscalationPolicy::Always.should_escalate(&Default::default(), &Default::default()));
    /// ```
    pub fn should_escalate(&self, request: &ChatRequest, draft: &ChatResponse) -> bool {
        match self {
            Self::Always => true,
            Self::Never => false,
            Self::DraftLongerThan(n) => draft.text().chars().count() > *n,
            Self::DraftSaysInsufficient => says_insufficient(draft.text()),
            Self::Any(policies) => policies.iter().any(|p| p.should_escalate(request, draft)),
            Self::Custom(f) => f(request, draft),
        }
    }
}

/// Whether a text says that the context or knowledge is not enough to answer.
///
/// ```
/// assert!(slm_core::EscalationPolicy::says_insufficient_text("Sorry, I do not know."));
/// assert!(!slm_core::EscalationPolicy::says_insufficient_text("Paris."));
/// ```
pub(crate) fn says_insufficient(text: &str) -> bool {
    let lower = text.to_lowercase();
    INSUFFICIENT_MARKERS.iter().any(|m| lower.contains(m))
}

impl EscalationPolicy {
    /// Whether a text says that the context or knowledge is not enough to answer (the test
    /// behind [`EscalationPolicy::DraftSaysInsufficient`]).
    ///
    /// ```
    /// assert!(slm_core::EscalationPolicy::says_insufficient_text("The context is insufficient."));
    /// ```
    pub fn says_insufficient_text(text: &str) -> bool {
        says_insufficient(text)
    }
}

impl fmt::Debug for EscalationPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Always => write!(f, "Always"),
            Self::Never => write!(f, "Never"),
            Self::DraftLongerThan(n) => write!(f, "DraftLongerThan({n})"),
            Self::DraftSaysInsufficient => write!(f, "DraftSaysInsufficient"),
            Self::Any(p) => f.debug_tuple("Any").field(p).finish(),
            Self::Custom(_) => write!(f, "Custom(..)"),
        }
    }
}
