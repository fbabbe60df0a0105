//! Rapport's domain: the product's words as types and rules, with no I/O.
//!
//! This crate depends on no runtime, web framework or AWS crate (the build checks it): parsing at the
//! edge turns outside input into these types or an [`error::Invalid`] listing every bad field, and the
//! use cases in `rapport` carry them to and from the stores behind its ports.

pub mod application;
pub mod attribution;
pub mod campaign;
pub mod clock;
pub mod consent;
pub mod content;
pub mod cursor;
pub mod demographics;
pub mod description;
pub mod draft;
pub mod email;
pub mod error;
pub mod event;
pub mod feed;
pub mod ids;
pub mod interview;
pub mod job;
pub mod keys;
pub mod parse;
pub mod pipeline;
pub mod prospect;
pub mod report;
pub mod stage;
pub mod token;
pub mod upload;
pub mod webhook;

pub use clock::{Clock, SharedClock};
pub use error::{FieldError, Invalid};
