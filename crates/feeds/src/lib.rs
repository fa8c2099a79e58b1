#![forbid(unsafe_code)]
//! Feed subscriptions (an edge crate: it opens connections and writes files;
//! the feed parsers and the matcher stay in the sans-IO `netward-policy`).
//!
//! - [`subs`]: the subscription file in the data directory and each
//!   subscription's refresh state.
//! - [`net`]: which route (direct or a proxy) netward's own connections
//!   take, and the HTTP client that takes it; nothing else in netward
//!   should build an HTTP client.
//! - [`pac`]: PAC files run in an embedded JavaScript engine (QuickJS).
//! - [`fetch`]: one conditional, bounded GET into a file.
//! - [`refresh`]: download (no lock held), then swap into the policy store
//!   and update the state (under the data directory's lock); the backoff.
//! - [`every`]: refresh intervals (`30m`, `6h`, `1d`).
//!
//! The CLI (`netward feed ...`) and the agent's refresher thread drive it;
//! they hold the lock, write event 5007 and tell the agent to reload.

pub mod every;
pub mod fetch;
pub mod net;
pub mod pac;
pub mod refresh;
pub mod subs;

pub use every::Every;
pub use fetch::{FetchError, Fetched, Validators};
pub use net::{NetConfig, ProxyPolicy, ProxyServer, Route};
pub use refresh::{apply, download, Download, Outcome};
pub use subs::{FeedState, SubsError, Subscription, Subscriptions};
