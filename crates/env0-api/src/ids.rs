//! Newtype identifiers, so an organization id can never be passed where a project id is expected.

use std::fmt;

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize};

macro_rules! id_type {
    ($(#[$meta:meta])* $name:ident, $what:literal) => {
        $(#[$meta])*
        ///
        /// Serialized as a bare string. Deserializing accepts a non-empty string or an integer.
        #[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// Wraps an id as received from env0 or typed by an operator.
            pub fn new(id: impl Into<String>) -> Self {
                Self(id.into())
            }

            /// The id as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }

            /// The id as an owned `String`.
            pub fn into_inner(self) -> String {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl From<String> for $name {
            fn from(id: String) -> Self {
                Self(id)
            }
        }

        impl From<&str> for $name {
            fn from(id: &str) -> Self {
                Self(id.to_owned())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                deserializer.deserialize_any(IdVisitor($what)).map(Self)
            }
        }
    };
}

id_type!(
    /// An env0 organization id (a UUID).
    OrgId,
    "an organization id"
);
id_type!(
    /// A principal id: an Auth0 subject such as `google-oauth2|1163...` for people, or the
    /// entity `id` of a User-role API key.
    UserId,
    "a user id"
);
id_type!(
    /// The entity id of an API key (a UUID); not the Basic-auth `apiKeyId`.
    ApiKeyId,
    "an API key id"
);
id_type!(
    /// The id of a custom role (a UUID). Built-in roles are names, not ids.
    RoleId,
    "a role id"
);
id_type!(
    /// A team id.
    TeamId,
    "a team id"
);
id_type!(
    /// A project id.
    ProjectId,
    "a project id"
);
id_type!(
    /// An environment id.
    EnvironmentId,
    "an environment id"
);

/// Accepts a non-empty string or an integer; everything else is a decode error.
pub(crate) struct IdVisitor(pub(crate) &'static str);

impl Visitor<'_> for IdVisitor {
    type Value = String;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (a non-empty string)", self.0)
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<String, E> {
        self.visit_string(v.to_owned())
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<String, E> {
        if crate::de::has_text(&v) {
            Ok(v)
        } else {
            Err(E::invalid_value(de::Unexpected::Str(&v), &self))
        }
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<String, E> {
        Ok(v.to_string())
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<String, E> {
        Ok(v.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_transparent_strings() {
        let id: OrgId = serde_json::from_str("\"org-1\"").unwrap();
        assert_eq!(id, OrgId::new("org-1"));
        assert_eq!(id.to_string(), "org-1");
        assert_eq!(serde_json::to_string(&id).unwrap(), "\"org-1\"");
        let numeric: TeamId = serde_json::from_str("42").unwrap();
        assert_eq!(numeric.as_str(), "42");
    }

    #[test]
    fn empty_or_null_id_is_refused() {
        let err = serde_json::from_str::<UserId>("\"\"").unwrap_err();
        assert!(err.to_string().contains("a user id"), "{err}");
        assert!(serde_json::from_str::<UserId>("null").is_err());
    }
}
