//! What every command starts from: the resolved data directory, settings,
//! output format and device identity, built from the global options.

use crate::cli::GlobalOpts;
use crate::datadir::DataDir;
use crate::device::DeviceIdentity;
use crate::error::CliResult;
use crate::output::Format;
use crate::settings::Settings;
use std::path::Path;

pub struct Ctx {
    pub data_dir: DataDir,
    pub settings: Settings,
    pub format: Format,
    pub config_path: std::path::PathBuf,
    opts_device_id: Option<String>,
    opts_device_name: Option<String>,
}

impl Ctx {
    pub fn new(g: &GlobalOpts) -> CliResult<Ctx> {
        let data_dir = DataDir::resolve(g.data_dir.as_deref(), &|k| std::env::var(k).ok())?;
        // The default path may be absent (defaults apply); a path the user
        // gave must exist.
        let settings = Settings::load(named_config(&g.config), &data_dir)?;
        Ok(Ctx {
            data_dir,
            settings,
            format: Format::resolve(g.format),
            config_path: g.config.clone(),
            opts_device_id: g.device_id.clone(),
            opts_device_name: g.device_name.clone(),
        })
    }

    /// Reads the settings again: call it after taking the data directory
    /// lock, so a change is made against the latest values, not the ones
    /// read before another writer finished.
    pub fn reload_settings(&mut self) -> CliResult<()> {
        self.settings = Settings::load(named_config(&self.config_path), &self.data_dir)?;
        Ok(())
    }

    /// A copy with the settings read again (the agent's reload).
    pub fn reloaded(&self) -> CliResult<Ctx> {
        Ok(Ctx {
            data_dir: self.data_dir.clone(),
            settings: Settings::load(named_config(&self.config_path), &self.data_dir)?,
            format: self.format,
            config_path: self.config_path.clone(),
            opts_device_id: self.opts_device_id.clone(),
            opts_device_name: self.opts_device_name.clone(),
        })
    }

    /// Flags win over settings, which win over detection.
    pub fn device(&self) -> CliResult<DeviceIdentity> {
        let id = self.opts_device_id.as_deref().or(Some(self.settings.get("device.id")));
        let name = self.opts_device_name.as_deref().or(Some(self.settings.get("device.name")));
        DeviceIdentity::detect(id, name)
    }

    /// Before the first write into an empty data directory, say which one it
    /// is and why, so a user is never surprised where data went.
    pub fn announce_data_dir_if_new(&self) {
        if self.data_dir.is_empty() {
            eprintln!(
                "netward: using data directory {} ({})",
                self.data_dir.path.display(),
                self.data_dir.source.describe()
            );
        }
    }
}

/// The default path may be absent (defaults apply); a path the user gave
/// must exist.
fn named_config(path: &Path) -> Option<&Path> {
    (path != Path::new(crate::settings::DEFAULT_CONFIG)).then_some(path)
}
