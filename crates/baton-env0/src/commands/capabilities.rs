//! `capabilities`: the connector's capabilities as baton-format JSON on stdout.

use std::io::Write as _;

use secrecy::SecretString;

use crate::exit::Failure;

/// A connector that is never asked to make a request: capabilities only need its resource types.
fn offline_connector() -> Result<env0_connector::Env0Connector, Failure> {
    // No request is made, so placeholder credentials are fine; they are not secret.
    let config =
        env0_api::ClientConfig::new("capabilities".to_owned(), SecretString::from("unused"));
    let client = env0_api::Env0Client::new(config).map_err(|e| super::api_failure(&e))?;
    Ok(env0_connector::Env0Connector::new(
        client,
        env0_api::OrgId::new("00000000-0000-0000-0000-000000000000"),
    ))
}

/// The capabilities document, as baton prints it (protojson field order, two-space indent), with a
/// trailing newline.
pub(crate) fn document() -> Result<String, Failure> {
    let connector = offline_connector()?;
    let mut json = c1_sync::capabilities_json_pretty(&connector);
    json.push('\n');
    Ok(json)
}

/// Runs `capabilities`.
pub(crate) fn run() -> Result<(), Failure> {
    let json = document()?;
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(json.as_bytes())
        .and_then(|()| stdout.flush())
        .map_err(|e| Failure::other(format!("cannot write to stdout: {e}")))
}
