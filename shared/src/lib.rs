//! Rapport's use cases, their ports and adapters, and the HTTP edge the functions share.
//!
//! The pure domain is the `rapport_domain` crate, re-exported here under its own module names (`job`,
//! `stage`, `feed`, …) so a function names one crate. The AWS adapters live under [`store`], [`files`],
//! [`mailer`], [`keys`] and [`aws`]; the HTTP edge (parsing, auth, problem+json) under [`api`], [`auth`]
//! and [`error`].
//!
//! See [`store`] for the DynamoDB access-pattern table and the round-trip budget of each operation.

pub use rapport_domain::{
    application, attribution, campaign, choice, clock, consent, content, cursor, demographics, description, draft,
    email, event, feed, ids, interview, job, parse, pipeline, prospect, report, stage, token, upload, webhook,
};

pub mod api;
pub mod app;
pub mod auth;
pub mod aws;
pub mod config;
pub mod error;
pub mod files;
pub mod keys;
pub mod logging;
pub mod mailer;
pub mod outbound;
pub mod routes;
pub mod startup;
pub mod store;

pub use clock::{Clock, SharedClock};
pub use config::Config;
pub use error::ApiError;
