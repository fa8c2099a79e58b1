//! One module per command; each takes the shared context and its arguments.

pub mod config;
pub mod events;
pub mod info;
pub mod replay;
pub mod evaluate;
pub mod indicator;
pub mod gen_capture;
pub mod import;
pub mod hunt;
