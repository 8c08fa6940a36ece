//! Errors of this crate.

/// Bytes could not be decoded into the requested protobuf message.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// The bytes are not a valid encoding of `message`.
    #[error("invalid {message} protobuf")]
    Protobuf {
        /// Fully qualified protobuf name of the message that was expected, e.g.
        /// `c1.connector.v2.Resource`.
        message: String,
        /// What prost reported.
        #[source]
        source: prost::DecodeError,
    },
}
