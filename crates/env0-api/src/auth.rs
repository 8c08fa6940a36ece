//! HTTP Basic authentication. This is the only place the API key secret is exposed.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use http::HeaderValue;
use secrecy::zeroize::Zeroizing;
use secrecy::{ExposeSecret, SecretString};

use crate::error::Error;

/// Builds `Authorization: Basic base64(key_id:secret)`, marked sensitive so HTTP layers never
/// log it. Intermediate copies of the secret are wiped when dropped.
pub(crate) fn basic_authorization(
    key_id: &str,
    secret: &SecretString,
) -> Result<HeaderValue, Error> {
    if key_id.trim().is_empty() {
        return Err(Error::invalid_config("the API key id is empty"));
    }
    if key_id.contains(':') {
        return Err(Error::invalid_config(
            "the API key id contains `:`, which HTTP Basic authentication cannot carry",
        ));
    }
    if key_id.chars().any(char::is_control) {
        return Err(Error::invalid_config(
            "the API key id contains control characters",
        ));
    }
    let secret = secret.expose_secret();
    if secret.is_empty() {
        return Err(Error::invalid_config("the API key secret is empty"));
    }
    let credentials = Zeroizing::new(format!("{key_id}:{secret}"));
    let encoded = Zeroizing::new(STANDARD.encode(credentials.as_bytes()));
    let header = Zeroizing::new(format!("Basic {}", encoded.as_str()));
    // Base64 output is always a valid header value; map the impossible failure without echoing it.
    let mut value = HeaderValue::from_str(&header).map_err(|_| {
        Error::invalid_config("the API key credentials cannot form an Authorization header")
    })?;
    value.set_sensitive(true);
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_is_basic_and_sensitive() {
        let v = basic_authorization("id", &SecretString::from("se:cret")).unwrap();
        assert!(v.is_sensitive());
        assert_eq!(v.to_str().unwrap(), "Basic aWQ6c2U6Y3JldA==");
        assert_eq!(format!("{v:?}"), "Sensitive");
    }

    #[test]
    fn bad_credentials_are_refused_without_echoing_the_secret() {
        let secret = SecretString::from("topsecret");
        for (id, needle) in [
            ("", "key id is empty"),
            ("a:b", "contains `:`"),
            ("a\nb", "control characters"),
        ] {
            let msg = basic_authorization(id, &secret).unwrap_err().to_string();
            assert!(msg.contains(needle), "{msg}");
            assert!(!msg.contains("topsecret"));
        }
        let msg = basic_authorization("id", &SecretString::from(""))
            .unwrap_err()
            .to_string();
        assert!(msg.contains("secret is empty"), "{msg}");
    }
}
