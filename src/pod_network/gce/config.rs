//! The user's gcloud configuration, as `gcloud config list --format=json` prints it (active
//! configuration plus `CLOUDSDK_*` environment overrides): where project and zone come from
//! when the inventory does not say, and whether gcloud can authenticate at all.

use serde_json::Value;

/// What labctl needs from gcloud's configuration.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GcloudConfig {
    /// `core/project`.
    pub project: Option<String>,
    /// `compute/zone`.
    pub zone: Option<String>,
    /// `core/account`: set by `gcloud auth login` and `activate-service-account`.
    pub account: Option<String>,
    /// `auth/disable_credentials`: gcloud sends requests without credentials.
    pub credentials_disabled: bool,
    /// `auth/credential_file_override` or `auth/access_token_file`: credentials from a file.
    pub credential_file: bool,
}

impl GcloudConfig {
    /// The arguments that print the configuration.
    pub const ARGS: &'static [&'static str] = &["config", "list", "--format=json"];

    /// True when gcloud has some way to authenticate (or is told not to).
    pub fn can_authenticate(&self) -> bool {
        self.credentials_disabled || self.account.is_some() || self.credential_file
    }
}

/// Parses the output of `gcloud config list --format=json`.
pub fn parse(json: &str) -> Result<GcloudConfig, String> {
    let value: Value = serde_json::from_str(json)
        .map_err(|e| format!("`gcloud config list` did not print JSON: {e}"))?;
    if !value.is_object() {
        return Err("`gcloud config list` did not print a JSON object".into());
    }
    let text = |section: &str, key: &str| -> Option<String> {
        let v = value.get(section)?.get(key)?;
        let s = match v {
            Value::String(s) => s.trim().to_string(),
            Value::Bool(b) => b.to_string(),
            _ => return None,
        };
        (!s.is_empty()).then_some(s)
    };
    Ok(GcloudConfig {
        project: text("core", "project"),
        zone: text("compute", "zone"),
        account: text("core", "account"),
        credentials_disabled: text("auth", "disable_credentials").is_some_and(|v| is_true(&v)),
        credential_file: text("auth", "credential_file_override").is_some()
            || text("auth", "access_token_file").is_some(),
    })
}

/// gcloud's boolean properties accept these spellings of true.
fn is_true(value: &str) -> bool {
    matches!(value.to_ascii_lowercase().as_str(), "1" | "true" | "on" | "yes" | "y")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fresh_configuration_cannot_authenticate() {
        let json = r#"{
  "component_manager": { "disable_update_check": "true" },
  "core": { "check_gce_metadata": "false", "disable_usage_reporting": "true" }
}"#;
        let config = parse(json).unwrap();
        assert_eq!(config, GcloudConfig::default());
        assert!(!config.can_authenticate());
    }

    #[test]
    fn a_logged_in_configuration() {
        let json = r#"{
  "compute": { "region": "us-west1", "zone": "us-west1-c" },
  "core": { "account": "student@example.com", "project": "kthw-1234" }
}"#;
        let config = parse(json).unwrap();
        assert_eq!(config.project.as_deref(), Some("kthw-1234"));
        assert_eq!(config.zone.as_deref(), Some("us-west1-c"));
        assert!(config.can_authenticate());
    }

    #[test]
    fn disabled_credentials_count_as_able_to_authenticate() {
        for spelling in ["true", "True", "1", "yes"] {
            let json = format!(r#"{{ "auth": {{ "disable_credentials": "{spelling}" }} }}"#);
            assert!(parse(&json).unwrap().can_authenticate(), "{spelling}");
        }
        let json = r#"{ "auth": { "disable_credentials": "false" } }"#;
        assert!(!parse(json).unwrap().can_authenticate());
        let json = r#"{ "auth": { "credential_file_override": "/keys/sa.json" } }"#;
        assert!(parse(json).unwrap().can_authenticate());
    }

    #[test]
    fn not_json_is_an_error() {
        assert!(parse("Your active configuration is: [default]").is_err());
        assert!(parse("[]").is_err());
    }
}
