//! Use cases: what the functions do, in the product's words, over the domain and the ports (store,
//! files, mailer, clock). No HTTP type and no SDK type appears here; a handler or a task parses its
//! input, calls one of these, and maps the answer.

pub mod drafts;
pub mod feeds;
pub mod imports;
pub mod notify;
pub mod nurture;
pub mod pace;
pub mod pipeline;
pub mod prospects;
