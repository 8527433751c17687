//! `import ADDR ID`: bring an existing cloud object under management.

use std::path::Path;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use clap::ArgMatches;
use mlinfra_engine::identity;
use mlinfra_engine::state::{ResourceState, State};
use mlinfra_engine::{Address, Evaluated};
use mlinfra_provider_api::{ImportRequest, ProviderConfig};

use crate::session::Session;
use crate::style::Style;
use crate::{VarArgs, EXIT_ERROR};

#[derive(clap::Args, Debug)]
pub struct ImportArgs {
    /// The address the object will have, as declared in the configuration.
    pub address: String,
    /// The cloud id of the existing object (for an S3 bucket: its name).
    pub id: String,
    #[command(flatten)]
    pub vars: VarArgs,
    /// How long to wait for the state lock (e.g. 30s, 5m).
    #[arg(long = "lock-timeout", value_name = "DURATION", default_value = "0s")]
    pub lock_timeout: String,
}

pub fn import(dir: &Path, m: &ArgMatches, args: &ImportArgs, nc: bool) -> Result<u8> {
    let address = Address::parse(&args.address)
        .map_err(|e| anyhow::anyhow!("invalid address \"{}\": {e}", args.address))?;
    let lock_timeout = mlinfra_engine::config::load::parse_duration(&args.lock_timeout)
        .map(Duration::from_secs)
        .with_context(|| format!("invalid --lock-timeout \"{}\"", args.lock_timeout))?;
    let Some(session) = Session::open(dir, m, "import", lock_timeout, nc)? else {
        return Ok(EXIT_ERROR);
    };
    let view = session.provider_view();
    let addr = address.to_string();
    if session.state.resources.contains_key(&addr) {
        bail!("{addr} is already in the state; to import again, first `mlinfra state rm {addr}`");
    }
    let record = read_import(&session, &view, &session.state, &addr, &args.id)
        .map_err(|e| anyhow::anyhow!(e))?;
    let mut state = session.state.clone();
    let based_on = session.state_exists.then_some(state.serial);
    state.resources.insert(addr.clone(), record);
    session.store.write(&mut state, based_on)?;
    let st = Style::stdout(nc);
    println!(
        "{} {addr} is now managed (id {}).",
        st.bold(&st.green("Import successful!")),
        args.id
    );
    println!("Run `mlinfra plan` to see how it differs from the configuration.");
    Ok(0)
}

/// Read the object `id` through its provider and build what state records for it at
/// `addr`, which must be declared in `view`. Refuses an object another address of `state`
/// already manages: one cloud object has one address.
pub fn read_import(
    session: &Session,
    view: &Evaluated,
    state: &State,
    addr: &str,
    id: &str,
) -> Result<ResourceState, String> {
    let Some(inst) = view
        .resources
        .iter()
        .find(|r| r.address.to_string() == addr)
    else {
        let kind = Address::parse(addr).map(|a| a.kind).unwrap_or_default();
        let same_kind: Vec<String> = view
            .resources
            .iter()
            .filter(|r| r.kind.name == kind)
            .map(|r| r.address.to_string())
            .collect();
        return Err(format!(
            "{addr} is not declared in the configuration; declare it first (resources of that kind: {})",
            if same_kind.is_empty() { "none".to_string() } else { same_kind.join(", ") }
        ));
    };
    let Some(cloud) = inst.cloud else {
        return Err(format!(
            "{addr} is a {}, which is not a cloud resource",
            inst.kind.name
        ));
    };
    let Some(provider) = session
        .providers
        .get(cloud)
        .filter(|p| p.supports(inst.kind.name))
    else {
        return Err(format!(
            "{addr} is a {} on {cloud}, which this build cannot import yet",
            inst.kind.name
        ));
    };
    let key = inst
        .provider
        .clone()
        .unwrap_or_else(|| cloud.as_str().to_string());
    let config = ProviderConfig {
        key: key.clone(),
        attributes: view
            .providers
            .iter()
            .find(|p| p.key == key)
            .map(|p| p.attrs.clone())
            .unwrap_or_default(),
    };
    // The shapes of write-only attributes: what the cloud returns for them is not imported.
    let shapes = inst
        .attrs
        .iter()
        .filter(|(k, _)| inst.write_only.contains_key(k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let req = ImportRequest::new(inst.kind.name, id, config).with_write_only(shapes);
    let resp = session
        .rt
        .block_on(provider.import(req))
        .map_err(|e| format!("importing {addr}: {}", e.message))?;
    let record = ResourceState {
        kind: inst.kind.name.to_string(),
        cloud: Some(cloud.as_str().to_string()),
        provider: Some(key),
        id: Some(id.to_string()),
        attributes: resp.attributes,
        sensitive: inst.sensitive.clone(),
        dependencies: inst.depends_on.clone(),
    };
    if let Some(object) = identity::of_state(view, &record) {
        if let Some(other) = identity::held_in_state(view, state, &object, addr) {
            return Err(format!(
                "{} is already managed by {other}, and one cloud object can have only one address; to give it the address {addr}, run: mlinfra state mv '{other}' '{addr}'",
                object.describe()
            ));
        }
    }
    Ok(record)
}
