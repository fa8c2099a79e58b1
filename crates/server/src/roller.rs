//! The thread that rolls the server's log into Parquet segments, off the
//! upload path: a commit that leaves the log at its roll threshold wakes
//! it, and it runs [`Shared::roll_once`] (the segments are written with no
//! lock held; uploads go on into the next log generation, up to
//! [`crate::ingest::IngestOptions::live_log_limit`]).

use crate::commit::Shared;
use std::sync::mpsc::{sync_channel, SyncSender, TrySendError};
use std::sync::Arc;
use std::thread::JoinHandle;

pub(crate) struct Roller {
    wake: SyncSender<()>,
    thread: JoinHandle<()>,
}

impl Roller {
    pub fn start(shared: Arc<Shared>) -> std::io::Result<Roller> {
        // One pending wake-up is enough: a roll looks at the log when it runs.
        let (wake, woken) = sync_channel::<()>(1);
        let thread = std::thread::Builder::new().name("segment-roll".into()).spawn(move || {
            while woken.recv().is_ok() {
                if let Err(e) = shared.roll_once(false) {
                    // The store is poisoned; the next upload reopens it.
                    eprintln!("netward server: roll: {e}");
                }
            }
        })?;
        Ok(Roller { wake, thread })
    }

    pub fn wake(&self) {
        match self.wake.try_send(()) {
            Ok(()) | Err(TrySendError::Full(())) | Err(TrySendError::Disconnected(())) => {}
        }
    }

    /// Stops the thread after the roll it is running, if any.
    pub fn stop(self) {
        let Roller { wake, thread } = self;
        drop(wake);
        let _ = thread.join();
    }
}
