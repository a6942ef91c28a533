//! The road a release travels, in order: discover -> fetch -> extract -> normalize -> validate
//! -> publish -> diff.
//! Each stage takes the previous stage's plain output and returns its own.

pub mod diff;
pub mod discover;
pub mod extract;
pub mod fetch;
pub mod normalize;
pub mod publish;
pub mod validate;
