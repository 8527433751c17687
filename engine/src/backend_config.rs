//! The `mlinfra { backend "KIND" { … } }` block, read and checked before anything runs.
//!
//! Backend attributes are literal values, as in Terraform: the backend is opened before
//! variables are evaluated. Attribute names are Terraform's where it has them.

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::config::syntax::Span as _;
use crate::config::syntax::Structure;

use crate::config::load::Config;
use crate::diag::{Diagnostic, Span};

/// One backend kind: its attributes, which are required, and what they mean.
pub struct BackendKind {
    pub name: &'static str,
    pub attributes: &'static [(&'static str, bool, &'static str)],
    pub example: &'static str,
}

/// Every backend kind this build opens.
pub const KINDS: &[BackendKind] = &[
    BackendKind {
        name: "local",
        attributes: &[("path", false, "the state file, relative to the configuration")],
        example: "backend \"local\" { path = \"state/mlinfra.state.json\" }",
    },
    BackendKind {
        name: "s3",
        attributes: &[
            ("bucket", true, "the S3 bucket that holds the state"),
            ("key", true, "the object key of the state"),
            ("region", false, "the bucket's region (else AWS_REGION)"),
            ("endpoint", false, "an S3-compatible endpoint URL (an emulator)"),
            ("workspace_key_prefix", false, "where other workspaces go (env:)"),
            ("use_path_style", false, "address the bucket in the path"),
        ],
        example: "backend \"s3\" { bucket = \"acme-mlinfra-state\"  key = \"prod/mlinfra.state.json\"  region = \"us-east-1\" }",
    },
    BackendKind {
        name: "gcs",
        attributes: &[
            ("bucket", true, "the Cloud Storage bucket that holds the state"),
            ("prefix", false, "the folder of the state objects (PREFIX/NAME.state.json)"),
            ("endpoint", false, "a Cloud Storage JSON API URL (an emulator)"),
        ],
        example: "backend \"gcs\" { bucket = \"acme-mlinfra-state\"  prefix = \"prod\" }",
    },
    BackendKind {
        name: "azurerm",
        attributes: &[
            ("storage_account_name", true, "the storage account that holds the state"),
            ("container_name", true, "the blob container of the state"),
            ("key", true, "the blob name of the state (other workspaces: KEYenv:NAME)"),
            ("endpoint", false, "the blob service URL (else https://ACCOUNT.blob.core.windows.net/)"),
            ("tenant_id", false, "the Entra tenant (else AZURE_TENANT_ID / ARM_TENANT_ID)"),
            ("client_id", false, "the client id (else AZURE_CLIENT_ID / ARM_CLIENT_ID)"),
            ("use_msi", false, "use the managed identity"),
            ("use_cli", false, "use the Azure CLI's login (default true)"),
            ("authority_host", false, "the Entra authority URL (a sovereign cloud, an emulator)"),
            ("ca_file", false, "a PEM bundle of extra CAs to trust (an emulator's)"),
        ],
        example: "backend \"azurerm\" { storage_account_name = \"acmemlstate\"  container_name = \"tfstate\"  key = \"prod.state.json\" }",
    },
    BackendKind {
        name: "pg",
        attributes: &[
            ("conn_str", false, "the PostgreSQL connection string (else PG_CONN_STR)"),
            ("schema_name", false, "the schema of the state tables (mlinfra_remote_state)"),
        ],
        example: "backend \"pg\" { conn_str = \"postgres://mlinfra@db.internal/state\" }",
    },
];

/// Attributes that can hold a secret (a password in a connection string): never shown.
pub const SECRET_ATTRIBUTES: &[&str] = &["conn_str"];

/// A checked backend block (or the default local one).
#[derive(Clone, Debug, PartialEq)]
pub struct BackendSpec {
    pub kind: String,
    pub attributes: BTreeMap<String, BackendValue>,
    /// The configuration's directory, which relative paths start from.
    pub root_dir: PathBuf,
    /// `mlinfra { encryption { … } }`: state at rest encrypted, on any backend.
    pub encryption: Option<EncryptionSpec>,
}

/// Where the passphrases come from, and whether plaintext state is refused.
#[derive(Clone, Debug, PartialEq)]
pub struct EncryptionSpec {
    pub passphrase_env: String,
    pub fallback_passphrase_env: Option<String>,
    pub enforced: bool,
    /// `passphrase = var.NAME`: the passphrase is the value of that sensitive root
    /// variable (from `--var`, `MLINFRA_VAR_NAME` or a `*.auto.mlinfra.vars` file), in
    /// place of `passphrase_env`.
    pub passphrase_variable: Option<String>,
    /// That variable's value, once the caller has the inputs ([`resolve_passphrase`]).
    pub passphrase: Option<Passphrase>,
}

/// A passphrase taken from an input variable; never shown.
#[derive(Clone, PartialEq)]
pub struct Passphrase(pub String);

impl std::fmt::Debug for Passphrase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Passphrase(hidden)")
    }
}

/// Take the passphrase from `inputs` when the encryption block names a variable
/// (`passphrase = var.NAME`); a variable with no value is left unset, and opening the
/// store says how to give it one.
pub fn resolve_passphrase(spec: &mut BackendSpec, inputs: &crate::config::eval::Inputs) {
    let Some(e) = &mut spec.encryption else {
        return;
    };
    let Some(name) = &e.passphrase_variable else {
        return;
    };
    e.passphrase = inputs.get(name).and_then(|i| match &i.raw {
        crate::config::eval::RawInput::Text(t) => Some(Passphrase(t.clone())),
        crate::config::eval::RawInput::Value(v) => v.as_str().map(|s| Passphrase(s.to_string())),
    });
}

#[derive(Clone, Debug, PartialEq)]
pub enum BackendValue {
    String(String),
    Bool(bool),
}

impl BackendSpec {
    pub fn str(&self, name: &str) -> Option<&str> {
        match self.attributes.get(name) {
            Some(BackendValue::String(s)) => Some(s),
            _ => None,
        }
    }

    pub fn bool(&self, name: &str) -> Option<bool> {
        match self.attributes.get(name) {
            Some(BackendValue::Bool(b)) => Some(*b),
            _ => None,
        }
    }

    /// The default: local state beside the manifests.
    pub fn default_local(root_dir: PathBuf) -> BackendSpec {
        BackendSpec {
            kind: "local".into(),
            attributes: BTreeMap::new(),
            root_dir,
            encryption: None,
        }
    }

    /// For messages and `init`: `s3 (bucket = "…", key = "…")`.
    pub fn describe(&self) -> String {
        let attrs: Vec<String> = self
            .attributes
            .iter()
            .map(|(k, v)| match v {
                _ if SECRET_ATTRIBUTES.contains(&k.as_str()) => format!("{k} = (hidden)"),
                BackendValue::String(s) => format!("{k} = \"{s}\""),
                BackendValue::Bool(b) => format!("{k} = {b}"),
            })
            .collect();
        if attrs.is_empty() {
            self.kind.clone()
        } else {
            format!("{} ({})", self.kind, attrs.join(", "))
        }
    }
}

/// The configuration's backend, checked: a known kind, known attributes with literal
/// values, the required ones present.
pub fn backend_spec(config: &Config) -> Result<BackendSpec, Diagnostic> {
    let root = config.root();
    let encryption = encryption_spec(config)?;
    let Some(b) = &root.settings.backend else {
        let mut spec = BackendSpec::default_local(config.root_dir.clone());
        spec.encryption = encryption;
        return Ok(spec);
    };
    let names: Vec<&str> = KINDS.iter().map(|k| k.name).collect();
    let Some(kind) = KINDS.iter().find(|k| k.name == b.kind) else {
        let mut d = Diagnostic::error(format!(
            "backend \"{}\" is not available in this build",
            b.kind
        ))
        .at(Some(b.span))
        .expected(format!("one of: {}", names.join(", ")));
        if let Some(near) = names.iter().find(|n| strsim::levenshtein(n, &b.kind) <= 2) {
            d = d.help(format!("did you mean backend \"{near}\"?"));
        }
        return Err(d);
    };
    let span = |r: Option<std::ops::Range<usize>>| r.map(|r| Span::new(b.file, r));
    let mut attributes = BTreeMap::new();
    for s in b.body.iter() {
        match s {
            Structure::Attribute(a) => {
                let key = a.key.as_str();
                let known: Vec<&str> = kind.attributes.iter().map(|(n, _, _)| *n).collect();
                if !known.contains(&key) {
                    let help = match known.iter().find(|n| strsim::levenshtein(n, key) <= 2) {
                        Some(near) => format!("did you mean `{near}`?"),
                        None => kind.example.to_string(),
                    };
                    return Err(Diagnostic::error(format!(
                        "unknown attribute `{key}` in backend \"{}\"",
                        kind.name
                    ))
                    .at(span(a.key.span()))
                    .expected(known.join(", "))
                    .help(help));
                }
                let value = if let Some(s) = a.value.as_str() {
                    BackendValue::String(s.to_string())
                } else if let Some(v) = a.value.as_bool() {
                    BackendValue::Bool(v)
                } else {
                    return Err(Diagnostic::error(format!(
                        "backend \"{}\" attribute `{key}` must be a literal value",
                        kind.name
                    ))
                    .at(span(a.value.span()))
                    .expected(format!("{key} = \"…\""))
                    .help("the backend is opened before variables are evaluated, so it takes no expressions; use an environment variable the backend reads instead"));
                };
                if matches!(&value, BackendValue::String(s) if s.is_empty()) {
                    return Err(Diagnostic::error(format!(
                        "backend \"{}\" attribute `{key}` is empty",
                        kind.name
                    ))
                    .at(span(a.value.span()))
                    .expected(format!("{key} = \"…\"")));
                }
                attributes.insert(key.to_string(), value);
            }
            Structure::Block(blk) => {
                return Err(Diagnostic::error(format!(
                    "unexpected block `{}` in backend \"{}\"",
                    blk.ident.as_str(),
                    kind.name
                ))
                .at(span(blk.ident.span()))
                .expected(
                    kind.attributes
                        .iter()
                        .map(|(n, _, _)| *n)
                        .collect::<Vec<_>>()
                        .join(", "),
                ));
            }
        }
    }
    for (name, required, what) in kind.attributes {
        if *required && !attributes.contains_key(*name) {
            return Err(Diagnostic::error(format!(
                "backend \"{}\" needs `{name}` ({what})",
                kind.name
            ))
            .at(Some(b.span))
            .expected(kind.example.to_string()));
        }
    }
    Ok(BackendSpec {
        kind: kind.name.to_string(),
        attributes,
        root_dir: config.root_dir.clone(),
        encryption,
    })
}

/// The `encryption { passphrase_env, fallback_passphrase_env, enforced }` block.
fn encryption_spec(config: &Config) -> Result<Option<EncryptionSpec>, Diagnostic> {
    let Some(b) = &config.root().settings.encryption else {
        return Ok(None);
    };
    let span = |r: Option<std::ops::Range<usize>>| r.map(|r| Span::new(b.file, r));
    let known = [
        "passphrase_env",
        "passphrase",
        "fallback_passphrase_env",
        "enforced",
    ];
    let mut spec = EncryptionSpec {
        passphrase_env: "MLINFRA_STATE_PASSPHRASE".into(),
        fallback_passphrase_env: None,
        enforced: false,
        passphrase_variable: None,
        passphrase: None,
    };
    let mut env_given = None;
    for s in b.body.iter() {
        let Structure::Attribute(a) = s else {
            return Err(Diagnostic::error("unexpected block in encryption")
                .at(Some(b.span))
                .expected(known.join(", ")));
        };
        let key = a.key.as_str();
        let name_ok =
            |v: &str| !v.is_empty() && v.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        match (key, a.value.as_str(), a.value.as_bool()) {
            ("passphrase", None, _) => {
                let parts = crate::config::load::static_parts(&a.value);
                let name = match parts.as_deref() {
                    Some([v, name]) if v == "var" => name.clone(),
                    _ => {
                        return Err(Diagnostic::error(
                            "encryption `passphrase` must name an input variable",
                        )
                        .at(span(a.value.span()))
                        .expected("passphrase = var.state_passphrase")
                        .help("the key is derived before anything else is evaluated, so it comes from a root variable given by --var, MLINFRA_VAR_NAME or a *.auto.mlinfra.vars file; or use passphrase_env"));
                    }
                };
                match config.root().variables.iter().find(|v| v.name == name) {
                    None => {
                        return Err(Diagnostic::error(format!(
                            "encryption `passphrase` names variable \"{name}\", which is not declared"
                        ))
                        .at(span(a.value.span()))
                        .expected(format!("variable \"{name}\" {{ sensitive = true }}")));
                    }
                    Some(v) if !v.sensitive => {
                        return Err(Diagnostic::error(format!(
                            "variable \"{name}\" holds the state passphrase and is not sensitive"
                        ))
                        .at(Some(v.span))
                        .expected("sensitive = true")
                        .help("a sensitive variable is never shown in plans, logs or output"));
                    }
                    Some(_) => spec.passphrase_variable = Some(name),
                }
            }
            ("passphrase", Some(_), _) => {
                return Err(Diagnostic::error(
                    "encryption `passphrase` must not be written in the configuration",
                )
                .at(span(a.value.span()))
                .expected("passphrase = var.state_passphrase")
                .help("a passphrase in a file is a leaked passphrase: name a sensitive variable, or use passphrase_env"));
            }
            ("passphrase_env", Some(v), _) if name_ok(v) => {
                spec.passphrase_env = v.into();
                env_given = span(a.key.span());
            }
            ("fallback_passphrase_env", Some(v), _) if name_ok(v) => {
                spec.fallback_passphrase_env = Some(v.into())
            }
            ("enforced", _, Some(v)) => spec.enforced = v,
            _ if known.contains(&key) => {
                return Err(Diagnostic::error(format!(
                    "encryption `{key}` must be {}",
                    if key == "enforced" {
                        "a literal true or false"
                    } else {
                        "the name of an environment variable, as a literal string"
                    }
                ))
                .at(span(a.value.span()))
                .expected(if key == "enforced" {
                    "enforced = true".to_string()
                } else {
                    format!("{key} = \"MLINFRA_STATE_PASSPHRASE\"")
                })
                .help("the passphrase itself never goes in a file: the block names the variable that holds it"));
            }
            _ => {
                return Err(
                    Diagnostic::error(format!("unknown attribute `{key}` in encryption"))
                        .at(span(a.key.span()))
                        .expected(known.join(", ")),
                );
            }
        }
    }
    if let (Some(_), Some(at)) = (&spec.passphrase_variable, env_given) {
        return Err(Diagnostic::error(
            "encryption takes `passphrase` or `passphrase_env`, not both",
        )
        .at(Some(at))
        .expected("one of passphrase = var.NAME, passphrase_env = \"NAME\""));
    }
    Ok(Some(spec))
}

impl BackendSpec {
    /// The local backend's default state file.
    pub fn local_path(&self) -> PathBuf {
        self.root_dir
            .join(self.str("path").unwrap_or("mlinfra.state.json"))
    }
}
