//! Black-box tests: each test spawns the local stack (gateway + functions) on a free port against the
//! emulator that `make test` starts, with its own table and bucket, and drives it over HTTP.
mod helpers;

mod architecture;
mod auth;
mod binaries;
mod browser;
mod contract;
mod crm;
mod emulator;
mod events;
mod faults;
mod feeds;
mod gateway;
mod iam;
mod intake;
mod jobs;
mod keys;
mod matrix;
mod nurture;
mod pipeline;
mod pool;
mod privacy;
mod recount;
mod reports;
mod ses_events;
mod shards;
mod stream;
mod webhooks;
