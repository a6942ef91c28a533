//! The road a release travels, in order: extract -> normalize -> publish. Each stage takes the
//! previous stage's plain output and returns its own.

pub mod extract;
pub mod normalize;
pub mod publish;
