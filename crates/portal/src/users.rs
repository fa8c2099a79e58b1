//! Portal accounts: `<data dir>/portal-users.json`, mode 0600, passwords
//! hashed with Argon2id (PHC strings, salt per user). Passwords come from a
//! prompt or stdin, never the command line (argv is visible to every user).

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use serde::{Deserialize, Serialize};
use std::io::{BufRead, IsTerminal, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

pub const USERS_FILE: &str = "portal-users.json";

/// What an account may do: admins change settings and indicators; analysts
/// read and hunt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Admin,
    Analyst,
}

impl std::str::FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Role, String> {
        match s {
            "admin" => Ok(Role::Admin),
            "analyst" => Ok(Role::Analyst),
            _ => Err(format!("unknown role `{s}` (admin or analyst)")),
        }
    }
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Analyst => "analyst",
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct User {
    name: String,
    role: Role,
    /// Argon2id PHC string.
    hash: String,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct UsersFile {
    users: Vec<User>,
}

#[derive(Debug, thiserror::Error)]
pub enum UsersError {
    #[error("{0}")]
    BadInput(String),
    #[error("{0}")]
    Io(String),
}

pub struct UserStore {
    path: PathBuf,
    file: UsersFile,
}

/// At most this many accounts (the file is read whole on every login).
const MAX_USERS: usize = 1000;

impl UserStore {
    pub fn open(data_dir: &Path) -> Result<UserStore, UsersError> {
        let path = data_dir.join(USERS_FILE);
        let file = match std::fs::read_to_string(&path) {
            Ok(s) => serde_json::from_str(&s)
                .map_err(|e| UsersError::Io(format!("{}: line {}: {e}", path.display(), e.line())))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => UsersFile::default(),
            Err(e) => return Err(UsersError::Io(format!("cannot read {}: {e}", path.display()))),
        };
        Ok(UserStore { path, file })
    }

    pub fn is_empty(&self) -> bool {
        self.file.users.is_empty()
    }

    /// Adds or replaces (a new password, a new role) an account.
    pub fn add(&mut self, name: &str, role: Role, password: &str) -> Result<(), UsersError> {
        let valid = !name.is_empty()
            && name.len() <= 64
            && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-@".contains(&b));
        if !valid {
            return Err(UsersError::BadInput(format!("user name `{name}`: 1 to 64 letters, digits or . _ - @")));
        }
        if password.chars().count() < 8 {
            return Err(UsersError::BadInput("the password must have at least 8 characters".into()));
        }
        let mut salt = [0u8; 16];
        getrandom::fill(&mut salt).map_err(|e| UsersError::Io(format!("no randomness: {e}")))?;
        let salt = SaltString::encode_b64(&salt).map_err(|e| UsersError::Io(e.to_string()))?;
        let hash = Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map_err(|e| UsersError::Io(format!("hashing: {e}")))?
            .to_string();
        self.file.users.retain(|u| u.name != name);
        if self.file.users.len() >= MAX_USERS {
            return Err(UsersError::BadInput(format!("at most {MAX_USERS} portal users")));
        }
        self.file.users.push(User { name: name.to_string(), role, hash });
        self.save()
    }

    /// The account's role when the password is right.
    pub fn verify(&self, name: &str, password: &str) -> Option<Role> {
        let Some(u) = self.file.users.iter().find(|u| u.name == name) else {
            // Same work for an unknown name, so timing does not tell names.
            let _ = Argon2::default()
                .hash_password(password.as_bytes(), &SaltString::from_b64("AAAAAAAAAAAAAAAAAAAAAA").ok()?);
            return None;
        };
        let parsed = PasswordHash::new(&u.hash).ok()?;
        Argon2::default().verify_password(password.as_bytes(), &parsed).ok().map(|_| u.role)
    }

    pub fn list(&self) -> Vec<(String, Role)> {
        self.file.users.iter().map(|u| (u.name.clone(), u.role)).collect()
    }

    fn save(&self) -> Result<(), UsersError> {
        let body = serde_json::to_vec_pretty(&self.file).map_err(|e| UsersError::Io(e.to_string()))?;
        write_private(&self.path, &body).map_err(UsersError::Io)
    }
}

/// Written whole to a 0600 temporary file, then renamed over the old one:
/// a crash leaves the old file or the new one, never half of either.
pub(crate) fn write_private(path: &Path, body: &[u8]) -> Result<(), String> {
    let io = |e: std::io::Error| format!("cannot write {}: {e}", path.display());
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(io)?;
    }
    let tmp = path.with_extension("json.tmp");
    let _ = std::fs::remove_file(&tmp);
    let mut f = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(&tmp).map_err(io)?;
    f.write_all(body).and_then(|_| f.sync_all()).map_err(io)?;
    std::fs::rename(&tmp, path).map_err(io)
}

/// The password: from a prompt without echo on a terminal, else the first
/// line of stdin.
pub fn read_password() -> Result<String, UsersError> {
    let pw = if std::io::stdin().is_terminal() {
        let a = rpassword::prompt_password("password: ").map_err(|e| UsersError::Io(e.to_string()))?;
        let b = rpassword::prompt_password("again: ").map_err(|e| UsersError::Io(e.to_string()))?;
        if a != b {
            return Err(UsersError::BadInput("the passwords differ".into()));
        }
        a
    } else {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line).map_err(|e| UsersError::Io(e.to_string()))?;
        line.trim_end_matches(['\n', '\r']).to_string()
    };
    Ok(pw)
}
