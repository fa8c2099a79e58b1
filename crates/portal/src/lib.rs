//! `netward-portal`: the local web portal (an edge crate: sockets, files,
//! the clock). It owns HTTP serving, accounts (Argon2id-hashed users in the
//! data directory), sessions, CSRF tokens, the login limiter, and the
//! server-rendered pages. It knows nothing of the store, policy or settings
//! itself: every query and change goes through a [`Backend`] the `netward`
//! binary implements with the code its CLI uses, so the portal and the CLI
//! cannot drift apart.

mod auth;
mod backend;
mod chart;
mod kql;
mod listen;
mod pages;
mod saved;
mod server;
mod timeline;
mod users;

pub use backend::{Backend, Grid, HistoryRow, ImportOutcome, QueryError, EDITABLE_SETTINGS};
pub use listen::{check_transport, Bound, PortalTls};
pub use saved::{SavedQueries, SavedQuery, QUERIES_FILE};
pub use server::{bind, serve, PortalOptions};
pub use timeline::TimeSpan;
pub use users::{read_password, Role, UserStore, UsersError, USERS_FILE};
