//! The agent's settings: defaults, then `agent.toml` in the agent's home, then
//! `WAYMARK_AGENT_…` environment variables (`__` between levels, e.g.
//! `WAYMARK_AGENT_AGENT__TRIM_M=0`). `agent.example.toml` is the commented template.

use std::path::Path;

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};

use crate::{AgentConfig, Error, Result};

/// Everything `agent.toml` can say.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// The ingest server (`register` writes it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server: Option<String>,
    /// Average upload limit in kilobytes per second.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bandwidth_kbps: Option<u64>,
    #[serde(default)]
    pub agent: AgentConfig,
}

impl Settings {
    /// Defaults, the TOML file at `path` if it exists, then the environment.
    pub fn load(path: &Path) -> Result<Self> {
        Figment::from(Serialized::defaults(Settings::default()))
            .merge(Toml::file(path))
            .merge(
                Env::prefixed("WAYMARK_AGENT_")
                    .split("__")
                    .ignore(&["home"]),
            )
            .extract()
            .map_err(|err| Error::Settings {
                path: path.to_owned(),
                reason: err.to_string(),
            })
    }

    /// Writes the settings as TOML.
    pub fn save(&self, path: &Path) -> Result<()> {
        let text = toml::to_string_pretty(self).map_err(|err| Error::Settings {
            path: path.to_owned(),
            reason: err.to_string(),
        })?;
        std::fs::write(path, text).map_err(crate::error::io("write", path))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_template_loads_and_says_what_it_changes() {
        let template = Path::new(env!("CARGO_MANIFEST_DIR")).join("agent.example.toml");
        let settings = Settings::load(&template).unwrap();
        assert_eq!(settings.server.as_deref(), Some("http://127.0.0.1:8080"));
        assert_eq!(settings.agent.privacy_zones.len(), 1);
        assert_eq!(settings.agent.privacy_zones[0].radius_m, 300.0);
        assert_eq!(settings.agent.trim_m, 100.0);
        assert_eq!(settings.agent.sampling, crate::SamplingConfig::default());
    }

    #[test]
    fn a_missing_file_gives_defaults_and_a_typo_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let missing = Settings::load(&dir.path().join("agent.toml")).unwrap();
        assert_eq!(missing.agent, AgentConfig::default());
        let typo = dir.path().join("typo.toml");
        std::fs::write(&typo, "[agent]\ntrim = 5\n").unwrap();
        let err = Settings::load(&typo).unwrap_err().to_string();
        assert!(err.contains("trim"), "{err}");
        let saved = dir.path().join("saved.toml");
        let settings = Settings {
            server: Some("http://x".into()),
            ..Settings::default()
        };
        settings.save(&saved).unwrap();
        assert_eq!(Settings::load(&saved).unwrap(), settings);
    }
}
