//! netward's hunting engine: KQL queries parsed ([`parse`]) and compiled onto
//! Apache DataFusion logical plans, with KQL's functions as DataFusion UDFs.

pub mod error;
pub mod parse;
pub mod value;
#[cfg(test)]
mod corpus;

pub use error::{ErrorKind, HuntError, Span};
