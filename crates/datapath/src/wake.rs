//! Waking the thread that blocks on the queue socket. `nfq` offers no file
//! descriptor to poll, so the queue thread is woken by signals delivered to
//! it alone, with handlers installed *without* `SA_RESTART`: the blocking
//! receive returns `EINTR` and the loop looks at its stop flag and clock.
//!
//! * `SIGTERM`, `SIGINT`: stop (the flag [`stop_requested`]).
//! * `SIGUSR1`: wake only ([`Waker::wake`]): ticks, and policy changes.
//!
//! Call [`block_in_this_thread`] before starting other threads (they inherit
//! the mask, so the signals are never delivered to them) and
//! [`unblock_in_this_thread`] in the queue thread.

use nix::sys::pthread::{pthread_kill, pthread_self, Pthread};
use nix::sys::signal::{sigaction, SaFlags, SigAction, SigHandler, SigSet, SigmaskHow, Signal};
use std::sync::atomic::{AtomicBool, Ordering};

static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn on_stop(_: nix::libc::c_int) {
    STOP.store(true, Ordering::SeqCst);
}

extern "C" fn on_wake(_: nix::libc::c_int) {}

fn set() -> SigSet {
    let mut s = SigSet::empty();
    s.add(Signal::SIGTERM);
    s.add(Signal::SIGINT);
    s.add(Signal::SIGUSR1);
    s
}

/// Installs the handlers (process-wide) and blocks the signals in the
/// calling thread, so threads started after this never receive them.
pub fn block_in_this_thread() -> nix::Result<()> {
    let stop = SigAction::new(SigHandler::Handler(on_stop), SaFlags::empty(), SigSet::empty());
    let wake = SigAction::new(SigHandler::Handler(on_wake), SaFlags::empty(), SigSet::empty());
    // SAFETY: the handlers only store to an atomic (async-signal-safe).
    unsafe {
        sigaction(Signal::SIGTERM, &stop)?;
        sigaction(Signal::SIGINT, &stop)?;
        sigaction(Signal::SIGUSR1, &wake)?;
    }
    nix::sys::signal::pthread_sigmask(SigmaskHow::SIG_BLOCK, Some(&set()), None)
}

/// Lets the calling thread (the queue thread) receive the signals.
pub fn unblock_in_this_thread() -> nix::Result<()> {
    nix::sys::signal::pthread_sigmask(SigmaskHow::SIG_UNBLOCK, Some(&set()), None)
}

pub fn stop_requested() -> bool {
    STOP.load(Ordering::SeqCst)
}

/// Asks the queue thread to stop, as SIGTERM would.
pub fn request_stop() {
    STOP.store(true, Ordering::SeqCst);
}

/// Wakes one thread (the queue thread) from a blocking call.
#[derive(Clone, Copy)]
pub struct Waker(Pthread);

impl Waker {
    /// A waker for the calling thread.
    pub fn for_this_thread() -> Waker {
        Waker(pthread_self())
    }
    pub fn wake(&self) {
        let _ = pthread_kill(self.0, Signal::SIGUSR1);
    }
}
