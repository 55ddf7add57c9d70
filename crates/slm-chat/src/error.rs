//! The errors of this crate.

/// What went wrong while turning a conversation into a prompt.
///
/// ```
/// let err = slm_chat::ChatTemplate::new("{% if %}", "", "").unwrap_err();
/// assert!(matches!(err, slm_chat::ChatError::Template(_)));
/// assert!(err.to_string().starts_with("chat template: "));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChatError {
    /// The chat template failed to parse or render (the engine's message follows).
    #[error("chat template: {0}")]
    Template(String),
}
