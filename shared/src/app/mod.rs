//! Use cases: what the functions do, in the product's words, over the domain and the ports. No HTTP
//! type and no SDK type appears here; a handler parses, calls one of these, and maps the answer.

pub mod notify;
pub mod pipeline;
