//! Use cases over the ports (the store, the files): a function's handler or task parses its input,
//! calls one, and maps the answer.
pub mod feeds;
