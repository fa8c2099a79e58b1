//! The CLI's error: a message, an optional hint, and the exit code class.
//! Exit codes: 0 success, 1 failure of the work, 2 bad usage or bad input.

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The work failed (I/O, a store that will not open, ...): exit 1.
    Failure,
    /// The user asked for something malformed: exit 2.
    BadInput,
}

#[derive(Debug)]
pub struct CliError {
    pub kind: ErrorKind,
    pub message: String,
    pub hint: Option<String>,
}

pub type CliResult<T> = Result<T, CliError>;

impl CliError {
    pub fn failure(message: impl Into<String>) -> Self {
        CliError { kind: ErrorKind::Failure, message: message.into(), hint: None }
    }
    pub fn bad_input(message: impl Into<String>) -> Self {
        CliError { kind: ErrorKind::BadInput, message: message.into(), hint: None }
    }
    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
    pub fn exit_code(&self) -> i32 {
        match self.kind {
            ErrorKind::Failure => 1,
            ErrorKind::BadInput => 2,
        }
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "error: {}", self.message)?;
        if let Some(h) = &self.hint {
            write!(f, "\nhint: {h}")?;
        }
        Ok(())
    }
}

/// I/O errors are failures of the work; the caller adds what it was doing.
pub trait Context<T> {
    fn context(self, what: impl FnOnce() -> String) -> CliResult<T>;
}

impl<T, E: fmt::Display> Context<T> for Result<T, E> {
    fn context(self, what: impl FnOnce() -> String) -> CliResult<T> {
        self.map_err(|e| CliError::failure(format!("{}: {e}", what())))
    }
}
