//! Rapport's domain crate.
//!
//! Module names are the product's words (`job`, `stage`, `feed`, …). Rules are plain functions over plain
//! types; the AWS adapters live under [`store`] and [`aws`] behind a few coarse ports, and the HTTP edge
//! (parsing, auth, problem+json) under [`api`], [`parse`], [`auth`] and [`error`].
//!
//! See [`store`] for the DynamoDB access-pattern table and the round-trip budget of each operation.

pub mod api;
pub mod application;
pub mod attribution;
pub mod auth;
pub mod aws;
pub mod campaign;
pub mod clock;
pub mod config;
pub mod consent;
pub mod content;
pub mod cursor;
pub mod demographics;
pub mod draft;
pub mod email;
pub mod error;
pub mod feed;
pub mod files;
pub mod ids;
pub mod interview;
pub mod job;
pub mod keys;
pub mod logging;
pub mod parse;
pub mod privacy;
pub mod prospect;
pub mod report;
pub mod routes;
pub mod stage;
pub mod startup;
pub mod store;
pub mod token;
pub mod upload;

pub use clock::{Clock, SharedClock};
pub use config::Config;
pub use error::ApiError;
