//! Settings: every knob netward has, its default, and where its value comes
//! from. Layers, lowest first: the built-in default, the config file
//! (`--config FILE`, else `/etc/netward/netward.toml`; missing means
//! defaults), and values set from the CLI (stored in the data directory as
//! `settings.json`), which win over the file; on a device managed by a fleet
//! server, the server's settings (`managed-policy.json`, see
//! `crate::managed`) win over all of them.

use crate::datadir::{atomic_write, DataDir};
use crate::error::{CliError, CliResult, Context};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub const DEFAULT_CONFIG: &str = "/etc/netward/netward.toml";
const SETTINGS_FILE: &str = "settings.json";

/// A known setting.
pub struct SettingDef {
    /// Dotted key: the TOML table and key (`network_protection.enforcement_level`).
    pub key: &'static str,
    pub default: &'static str,
    pub help: &'static str,
    pub check: fn(&str) -> Result<(), String>,
}

fn one_of(allowed: &'static [&'static str]) -> impl Fn(&str) -> Result<(), String> {
    move |v| {
        if allowed.contains(&v) {
            Ok(())
        } else {
            Err(format!("expected one of {}", allowed.join(", ")))
        }
    }
}

fn enforcement(v: &str) -> Result<(), String> {
    one_of(&["disabled", "audit", "block"])(v)
}
fn fail_mode(v: &str) -> Result<(), String> {
    one_of(&["open", "closed"])(v)
}
fn attribution_mode(v: &str) -> Result<(), String> {
    one_of(&["bpf", "proc", "off"])(v)
}
fn positive_int(v: &str) -> Result<(), String> {
    match v.parse::<u64>() {
        Ok(n) if n > 0 => Ok(()),
        _ => Err("expected a positive whole number".into()),
    }
}
fn socket_addr(v: &str) -> Result<(), String> {
    v.parse::<std::net::SocketAddr>().map(|_| ()).map_err(|_| "expected ADDR:PORT, e.g. 127.0.0.1:7443".into())
}
fn object_store_url(v: &str) -> Result<(), String> {
    netward_server::SegmentStoreConfig::parse(v).map(|_| ())
}
fn any_text(_: &str) -> Result<(), String> {
    Ok(())
}
fn pac_url(v: &str) -> Result<(), String> {
    if v.is_empty() || ["http://", "https://", "file:///"].iter().any(|p| v.starts_with(p)) {
        Ok(())
    } else {
        Err("expected an http://, https:// or file:/// URL of the PAC file".into())
    }
}
fn proxy_server(v: &str) -> Result<(), String> {
    if v.is_empty() {
        return Ok(());
    }
    netward_feeds::ProxyServer::parse(v).map(|_| ())
}

fn bool_word(v: &str) -> Result<(), String> {
    one_of(&["true", "false"])(v)
}
fn bus_address(v: &str) -> Result<(), String> {
    crate::agent::notify::bus::BusTemplate::parse(v).map(|_| ())
}
fn http_url_or_empty(v: &str) -> Result<(), String> {
    if v.is_empty() || v.starts_with("http://") || v.starts_with("https://") {
        Ok(())
    } else {
        Err("expected an http:// or https:// URL".into())
    }
}
fn allow_hours(v: &str) -> Result<(), String> {
    match v.parse::<u64>() {
        Ok(n) if (1..=168).contains(&n) => Ok(()),
        _ => Err("expected whole hours from 1 to 168".into()),
    }
}

pub const ENFORCEMENT_LEVEL: &str = "network_protection.enforcement_level";

pub const NOTIFICATION_ENABLED: &str = "notification.enabled";
pub const NOTIFICATION_TEXT: &str = "notification.text";
pub const NOTIFICATION_HELP_URL: &str = "notification.help_url";
pub const NOTIFICATION_BUS: &str = "notification.bus_address";
pub const NOTIFICATION_INTERVAL: &str = "notification.min_interval_seconds";
pub const WARN_ALLOW_HOURS: &str = "warn.allow_hours";

pub const PORTAL_ENABLED: &str = "portal.enabled";
pub const PORTAL_LISTEN: &str = "portal.listen";
pub const PORTAL_TLS: &str = "portal.tls";
pub const PORTAL_TLS_CERT: &str = "portal.tls_cert";
pub const PORTAL_TLS_KEY: &str = "portal.tls_key";
pub const PROXY_SERVER: &str = "network.proxy_server";
pub const PROXY_PAC_URL: &str = "network.proxy_pac_url";

pub static SETTINGS: &[SettingDef] = &[
    SettingDef {
        key: PROXY_SERVER,
        default: "",
        help: "the proxy every connection netward itself makes goes through (feed downloads): http://HOST:PORT; empty: direct (the environment's HTTP_PROXY is never used)",
        check: proxy_server,
    },
    SettingDef {
        key: PROXY_PAC_URL,
        default: "",
        help: "instead of proxy_server: the PAC file (http://, https:// or file:///) whose FindProxyForURL chooses the proxy of each of netward's own connections; fetched directly",
        check: pac_url,
    },
    SettingDef {
        key: "network.ca_file",
        default: "",
        help: "extra trusted root certificates (PEM) for netward's own HTTPS connections, on top of the system's",
        check: any_text,
    },
    SettingDef {
        key: "feeds.timeout_seconds",
        default: "120",
        help: "time limit of one feed download, connect to last byte",
        check: positive_int,
    },
    SettingDef {
        key: "feeds.max_download_mb",
        default: "256",
        help: "a feed download larger than this is refused (the previous entries stay)",
        check: positive_int,
    },
    SettingDef {
        key: ENFORCEMENT_LEVEL,
        default: "disabled",
        help: "disabled | audit (record what would be blocked) | block",
        check: enforcement,
    },
    SettingDef {
        key: "network_protection.fail_mode",
        default: "open",
        help: "what traffic does when the agent cannot decide: open (flows) | closed (dropped)",
        check: fail_mode,
    },
    SettingDef {
        key: "network_protection.help_text",
        default: "",
        help: "the organisation's text shown in block notifications",
        check: any_text,
    },
    SettingDef {
        key: NOTIFICATION_ENABLED,
        default: "true",
        help: "desktop notifications (D-Bus org.freedesktop.Notifications) to the user whose program was blocked or warned: true | false",
        check: bool_word,
    },
    SettingDef {
        key: NOTIFICATION_TEXT,
        default: "",
        help: "the organisation's text in each notification (empty: network_protection.help_text)",
        check: any_text,
    },
    SettingDef {
        key: NOTIFICATION_HELP_URL,
        default: "",
        help: "the organisation's help page, shown in each notification (http:// or https://)",
        check: http_url_or_empty,
    },
    SettingDef {
        key: NOTIFICATION_BUS,
        default: "unix:path=/run/user/{uid}/bus",
        help: "where a user's session bus is: a unix:path= address, {uid} replaced by the user's uid",
        check: bus_address,
    },
    SettingDef {
        key: NOTIFICATION_INTERVAL,
        default: "60",
        help: "one notification per user and destination within this many seconds; the rest are counted",
        check: positive_int,
    },
    SettingDef {
        key: WARN_ALLOW_HOURS,
        default: "24",
        help: "how long a warn destination stays allowed after the user chooses \"Allow\" (and the default of `netward warn allow`), 1 to 168 hours",
        check: allow_hours,
    },
    SettingDef {
        key: "attribution.mode",
        default: "bpf",
        help: "how connections are named with their process: bpf (kernel records at connect time, /proc for the rest) | proc (/proc only: long-lived processes) | off",
        check: attribution_mode,
    },
    SettingDef {
        key: "attribution.cgroup",
        default: "",
        help: "the cgroup v2 directory the attribution programs attach to (default: the cgroup2 root, every process)",
        check: any_text,
    },
    SettingDef { key: "device.name", default: "", help: "DeviceName (default: the host name)", check: any_text },
    SettingDef {
        key: "device.id",
        default: "",
        help: "DeviceId (default: derived from /etc/machine-id)",
        check: any_text,
    },
    SettingDef {
        key: "hunt.timeout_seconds",
        default: "120",
        help: "time limit of one hunting query",
        check: positive_int,
    },
    SettingDef {
        key: "hunt.memory_limit_mb",
        default: "4096",
        help: "memory limit of one hunting query",
        check: positive_int,
    },
    SettingDef {
        key: "store.retention_days",
        default: "180",
        help: "events older than this are removed from the store",
        check: positive_int,
    },
    SettingDef {
        key: "server.url",
        default: "",
        help: "the fleet server this device syncs to and hunts on, http://HOST:PORT",
        check: any_text,
    },
    SettingDef {
        key: "server.token",
        default: "",
        help: "the token the server's admin made for this device (netward server token add)",
        check: any_text,
    },
    SettingDef {
        key: "server.fingerprint",
        default: "",
        help: "the server certificate's SHA-256 fingerprint this device pins, sha256:HEX (netward server fingerprint)",
        check: any_text,
    },
    SettingDef {
        key: "server.listen",
        default: "127.0.0.1:7443",
        help: "where `netward server` listens",
        check: socket_addr,
    },
    SettingDef {
        key: "server.tls_cert",
        default: "",
        help: "the server's certificate chain, PEM (default: generated in the data directory, server-cert.pem)",
        check: any_text,
    },
    SettingDef {
        key: "server.tls_key",
        default: "",
        help: "the server's private key, PEM (with server.tls_cert)",
        check: any_text,
    },
    SettingDef {
        key: "server.object_store",
        default: "",
        help: "where `netward server` keeps its events' Parquet segments: empty (its data directory's store/), file:///DIR, or s3://BUCKET/PREFIX (a build with --features s3)",
        check: object_store_url,
    },
    SettingDef {
        key: "server.s3_endpoint",
        default: "",
        help: "an S3-compatible endpoint for server.object_store, e.g. http://127.0.0.1:9000 (default: AWS)",
        check: any_text,
    },
    SettingDef {
        key: "server.s3_region",
        default: "",
        help: "the S3 region (default: AWS_REGION, else us-east-1)",
        check: any_text,
    },
    SettingDef {
        key: "server.s3_access_key_id",
        default: "",
        help: "the S3 access key id (default: AWS_ACCESS_KEY_ID)",
        check: any_text,
    },
    SettingDef {
        key: "server.s3_secret_access_key",
        default: "",
        help: "the S3 secret access key (default: AWS_SECRET_ACCESS_KEY)",
        check: any_text,
    },
    SettingDef {
        key: "server.s3_allow_http",
        default: "false",
        help: "allow an http:// server.s3_endpoint (a local test store): true | false",
        check: bool_word,
    },
    SettingDef {
        key: PORTAL_ENABLED,
        default: "false",
        help: "`netward run` serves the web portal too (on portal.listen): true | false",
        check: bool_word,
    },
    SettingDef {
        key: PORTAL_LISTEN,
        default: "127.0.0.1:7878",
        help: "where the web portal listens (`netward portal`, and `netward run` with portal.enabled); a non-loopback address is served over HTTPS only",
        check: socket_addr,
    },
    SettingDef {
        key: PORTAL_TLS,
        default: "false",
        help: "serve the portal over HTTPS on a loopback address too (a non-loopback one always is): true | false",
        check: bool_word,
    },
    SettingDef {
        key: PORTAL_TLS_CERT,
        default: "",
        help: "the portal's certificate chain, PEM (default: generated in the data directory, portal-cert.pem, when HTTPS is served)",
        check: any_text,
    },
    SettingDef {
        key: PORTAL_TLS_KEY,
        default: "",
        help: "the portal's private key, PEM (with portal.tls_cert)",
        check: any_text,
    },
    SettingDef {
        key: "store.max_size_mb",
        default: "10240",
        help: "the store keeps at most this much, oldest segments removed first",
        check: positive_int,
    },
];

pub fn def(key: &str) -> Option<&'static SettingDef> {
    SETTINGS.iter().find(|d| d.key == key)
}

/// Where a setting's value comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Default,
    File(PathBuf),
    Cli,
    /// The fleet server's policy (a managed device).
    Server,
}

impl Source {
    pub fn describe(&self) -> String {
        match self {
            Source::Default => "default".into(),
            Source::File(p) => format!("file {}", p.display()),
            Source::Cli => "set from the CLI".into(),
            Source::Server => "set by the fleet server".into(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Settings {
    values: BTreeMap<&'static str, (String, Source)>,
    /// The config file that was read, if it existed.
    pub config_file: Option<PathBuf>,
}

impl Settings {
    /// Loads defaults, then the config file, then the CLI-set values.
    pub fn load(config: Option<&Path>, data_dir: &DataDir) -> CliResult<Settings> {
        let mut values: BTreeMap<&'static str, (String, Source)> =
            SETTINGS.iter().map(|d| (d.key, (d.default.to_string(), Source::Default))).collect();
        let path = config.map(Path::to_path_buf).unwrap_or_else(|| PathBuf::from(DEFAULT_CONFIG));
        let mut config_file = None;
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                for (key, value) in parse_config(&text, &path)? {
                    values.insert(key, (value, Source::File(path.clone())));
                }
                config_file = Some(path);
            }
            // A missing default file means defaults; a missing file the user
            // named is a mistake worth telling.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && config.is_none() => {}
            Err(e) => return Err(CliError::bad_input(format!("cannot read config file {}: {e}", path.display()))),
        }
        for (key, value) in read_cli_settings(data_dir)? {
            values.insert(key, (value, Source::Cli));
        }
        for (key, value) in crate::managed::settings(data_dir)? {
            // A setting this version does not know, or a value it would
            // refuse, is skipped: the server may be newer than the device.
            if let Some(d) = def(&key).filter(|d| (d.check)(&value).is_ok()) {
                values.insert(d.key, (value, Source::Server));
            }
        }
        Ok(Settings { values, config_file })
    }

    pub fn get(&self, key: &str) -> &str {
        self.values.get(key).map(|(v, _)| v.as_str()).unwrap_or("")
    }

    #[cfg(test)]
    pub fn source(&self, key: &str) -> Source {
        self.values.get(key).map(|(_, s)| s.clone()).unwrap_or(Source::Default)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&'static str, &str, &Source)> {
        self.values.iter().map(|(k, (v, s))| (*k, v.as_str(), s))
    }

    pub fn get_u64(&self, key: &str) -> u64 {
        self.get(key).parse().unwrap_or(0)
    }

    /// Stores a value set from the CLI; the caller holds the data dir lock
    /// and writes the 5007 event. Returns the previous effective value.
    pub fn set_from_cli(&mut self, key: &str, value: &str, data_dir: &DataDir) -> CliResult<String> {
        let d = def(key).ok_or_else(|| CliError::bad_input(format!("unknown setting `{key}`")))?;
        (d.check)(value).map_err(|e| CliError::bad_input(format!("invalid value `{value}` for {key}: {e}")))?;
        let mut stored = read_cli_settings(data_dir)?;
        stored.insert(d.key, value.to_string());
        let json: serde_json::Map<String, serde_json::Value> =
            stored.iter().map(|(k, v)| (k.to_string(), serde_json::Value::String(v.clone()))).collect();
        data_dir.ensure()?;
        let path = data_dir.file(SETTINGS_FILE);
        let text = serde_json::to_string_pretty(&json).context(|| "cannot encode settings".into())?;
        atomic_write(&path, text.as_bytes()).context(|| format!("cannot write {}", path.display()))?;
        let old = self.get(d.key).to_string();
        self.values.insert(d.key, (value.to_string(), Source::Cli));
        Ok(old)
    }
}

fn read_cli_settings(data_dir: &DataDir) -> CliResult<BTreeMap<&'static str, String>> {
    let path = data_dir.file(SETTINGS_FILE);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(BTreeMap::new()),
        Err(e) => return Err(CliError::failure(format!("cannot read {}: {e}", path.display()))),
    };
    let map: BTreeMap<String, String> = serde_json::from_str(&text).map_err(|e| {
        CliError::failure(format!("{} is damaged: {e}", path.display()))
            .with_hint("fix or remove the file; settings then come from the config file")
    })?;
    let mut out = BTreeMap::new();
    for (k, v) in map {
        // A setting this version does not know is skipped, not fatal: a newer
        // netward may have written it.
        if let Some(d) = def(&k) {
            if (d.check)(&v).is_ok() {
                out.insert(d.key, v);
            }
        }
    }
    Ok(out)
}

/// Reads the TOML config file into dotted keys, refusing unknown keys and
/// bad values with the file, the key and the reason.
fn parse_config(text: &str, path: &Path) -> CliResult<Vec<(&'static str, String)>> {
    let bad = |msg: String| CliError::bad_input(format!("config file {}: {msg}", path.display()));
    let table: toml::Table = text.parse().map_err(|e: toml::de::Error| bad(e.to_string()))?;
    let mut out = Vec::new();
    for (section, inner) in &table {
        let inner = inner.as_table().ok_or_else(|| bad(format!("`{section}` must be a table like [{section}]")))?;
        for (name, value) in inner {
            let key = format!("{section}.{name}");
            let d = def(&key).ok_or_else(|| {
                bad(format!("unknown setting `{key}`")).with_hint("`netward config show` lists the settings")
            })?;
            let value = match value {
                toml::Value::String(s) => s.clone(),
                toml::Value::Integer(i) => i.to_string(),
                toml::Value::Boolean(b) => b.to_string(),
                other => return Err(bad(format!("`{key}` must be a string or a number, got {}", other.type_str()))),
            };
            (d.check)(&value).map_err(|e| bad(format!("`{key}` = `{value}`: {e}")))?;
            out.push((d.key, value));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::datadir::DataDirSource;

    fn dir(t: &tempfile::TempDir) -> DataDir {
        DataDir { path: t.path().to_path_buf(), source: DataDirSource::Flag }
    }

    #[test]
    fn layers_default_file_cli() {
        let t = tempfile::tempdir().unwrap();
        let dd = dir(&t);
        let cfg = t.path().join("netward.toml");
        std::fs::write(&cfg, "[network_protection]\nenforcement_level = \"audit\"\n[hunt]\ntimeout_seconds = 5\n")
            .unwrap();
        let mut s = Settings::load(Some(&cfg), &dd).unwrap();
        assert_eq!(s.get(ENFORCEMENT_LEVEL), "audit");
        assert_eq!(s.source(ENFORCEMENT_LEVEL), Source::File(cfg.clone()));
        assert_eq!(s.get("store.retention_days"), "180");
        assert_eq!(s.source("store.retention_days"), Source::Default);
        assert_eq!(s.set_from_cli(ENFORCEMENT_LEVEL, "block", &dd).unwrap(), "audit");
        let s = Settings::load(Some(&cfg), &dd).unwrap();
        assert_eq!((s.get(ENFORCEMENT_LEVEL), s.source(ENFORCEMENT_LEVEL)), ("block", Source::Cli));
        assert_eq!(s.get_u64("hunt.timeout_seconds"), 5);
    }

    #[test]
    fn bad_config_names_file_and_key() {
        let t = tempfile::tempdir().unwrap();
        let cfg = t.path().join("c.toml");
        std::fs::write(&cfg, "[network_protection]\nenforcement_level = \"maybe\"\n").unwrap();
        let e = Settings::load(Some(&cfg), &dir(&t)).unwrap_err();
        assert!(e.message.contains("enforcement_level") && e.message.contains("c.toml"), "{e}");
        std::fs::write(&cfg, "[nope]\nx = 1\n").unwrap();
        assert!(Settings::load(Some(&cfg), &dir(&t)).unwrap_err().message.contains("nope.x"));
        std::fs::write(&cfg, "[a\n").unwrap();
        let e = Settings::load(Some(&cfg), &dir(&t)).unwrap_err();
        assert!(e.message.contains("line"), "{e}");
        assert_eq!(e.exit_code(), 2);
    }

    #[test]
    fn missing_named_config_is_an_error_but_missing_default_is_not() {
        let t = tempfile::tempdir().unwrap();
        assert!(Settings::load(Some(&t.path().join("absent.toml")), &dir(&t)).is_err());
    }

    #[test]
    fn invalid_cli_value_is_refused() {
        let t = tempfile::tempdir().unwrap();
        let cfg = t.path().join("empty.toml");
        std::fs::write(&cfg, "").unwrap();
        let mut s = Settings::load(Some(&cfg), &dir(&t)).unwrap();
        assert!(s.set_from_cli(ENFORCEMENT_LEVEL, "strict", &dir(&t)).is_err());
    }
}
