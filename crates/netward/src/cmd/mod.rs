//! One module per command; each takes the shared context and its arguments.

pub mod cleanup;
pub mod config;
pub mod evaluate;
pub mod events;
pub mod feed;
pub mod gen_capture;
pub mod hunt;
pub mod import;
pub mod indicator;
pub mod info;
pub mod portal;
pub mod replay;
pub mod server;
pub mod server_policy;
pub mod sync;
pub mod warn;
