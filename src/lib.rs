//! rvu-pipeline: CMS Medicare Physician Fee Schedule Relative Value Files into canonical,
//! typed, cross-checked datasets.
//!
//! The road: [`stages::discover`] -> [`stages::fetch`] (into the [`store`]) ->
//! [`stages::extract`] -> [`stages::normalize`] (readers in [`read`], table rules in
//! [`tables`]) -> [`stages::validate`] -> [`stages::diff`] -> [`stages::publish`] (the output
//! folder through [`published`]) -> [`history`] and [`codes`] -> [`sink`]s. See ARCHITECTURE.md.

pub mod catalog;
pub mod cli;
pub mod codes;
pub mod error;
pub mod failpoint;
pub mod fixtures;
pub mod history;
pub mod http;
pub mod lookup;
pub mod package;
pub mod payment;
pub mod pipeline;
pub mod published;
pub mod read;
pub mod report;
pub mod sink;
pub mod stages;
pub mod store;
pub mod tables;

pub use error::{Error, Result};
