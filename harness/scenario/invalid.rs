//! What the meaning checks of a scenario report: a key path and what is wrong there.
//!
//! Shared by the loader ([`super::load`], which places the path in the file) and the step
//! checks ([`super::steps`]), so that neither imports the other for it.

/// One step of a key path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Seg {
    Key(String),
    Index(usize),
}

/// A key path and what is wrong there.
pub(super) type Invalid = (Vec<Seg>, String);

/// The key path of nested keys, such as `["expect", "recovery_max"]`.
pub(super) fn key(parts: &[&str]) -> Vec<Seg> {
    parts.iter().map(|p| Seg::Key((*p).to_string())).collect()
}
