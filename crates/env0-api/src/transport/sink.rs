//! Where a successful response's body goes as it arrives: whole into a buffer and decoded at its
//! end ([`Whole`]), or into a decoder that reads it chunk by chunk ([`Streamed`]).

use serde::de::DeserializeOwned;
use serde_json::error::Category;

use super::messages::{decode_error, internal};
use super::retry::{Failure, JsonPlace};
use super::{Decoded, Endpoint, PREALLOCATE_BYTES};
use crate::body::BodyBuffer;
use crate::error::Error;
use crate::stream_decode::{Collect, StreamError, StreamList};

/// One attempt's reader of a body.
pub(crate) trait Sink<T> {
    /// The next part of the body.
    fn feed(&mut self, chunk: &[u8], endpoint: &Endpoint) -> Result<(), Failure>;
    /// The body has ended.
    fn finish(self, endpoint: &Endpoint) -> Result<Decoded<T>, Failure>;
}

/// The whole body, decoded by `decode` once it has all arrived.
pub(crate) struct Whole<'d, D> {
    decode: &'d D,
    body: BodyBuffer,
}

impl<'d, D> Whole<'d, D> {
    /// A buffer sized for a body declared `declared` bytes long (within the preallocation cap).
    pub(crate) fn new(decode: &'d D, declared: Option<u64>) -> Self {
        let capacity = declared.unwrap_or(0).min(PREALLOCATE_BYTES);
        Whole {
            decode,
            body: BodyBuffer::with_capacity(usize::try_from(capacity).unwrap_or(0)),
        }
    }
}

impl<T, D> Sink<T> for Whole<'_, D>
where
    D: Fn(&[u8]) -> Result<Decoded<T>, serde_json::Error>,
{
    fn feed(&mut self, chunk: &[u8], endpoint: &Endpoint) -> Result<(), Failure> {
        self.body
            .extend_from_slice(chunk)
            .map_err(|bug| Failure::Permanent(internal(endpoint, &bug)))
    }

    fn finish(self, endpoint: &Endpoint) -> Result<Decoded<T>, Failure> {
        let bytes = self
            .body
            .as_slice()
            .map_err(|bug| Failure::Permanent(internal(endpoint, &bug)))?;
        match (self.decode)(bytes) {
            Ok(decoded) => Ok(decoded),
            Err(error) if error.classify() == Category::Eof => {
                Err(Failure::CutShort(JsonPlace::of(&error)))
            }
            Err(error) => Err(Failure::Permanent(decode_error(&error, bytes, endpoint))),
        }
        // The body is freed here, before the caller builds on what was decoded.
    }
}

/// A JSON list decoded as it arrives (see `stream_decode`), each element handed to a collector.
pub(crate) struct Streamed<E, C>(StreamList<E, C>);

impl<E, C> Streamed<E, C>
where
    E: DeserializeOwned,
    C: Collect<E>,
{
    pub(crate) fn new(collect: C, declared: Option<u64>) -> Self {
        Streamed(StreamList::new(
            collect,
            declared.and_then(|len| usize::try_from(len).ok()),
        ))
    }
}

impl<E, C> Sink<C::Output> for Streamed<E, C>
where
    E: DeserializeOwned,
    C: Collect<E>,
{
    fn feed(&mut self, chunk: &[u8], endpoint: &Endpoint) -> Result<(), Failure> {
        self.0.feed(chunk).map_err(|e| failure(e, endpoint))
    }

    fn finish(self, endpoint: &Endpoint) -> Result<Decoded<C::Output>, Failure> {
        self.0.finish().map_err(|e| failure(e, endpoint))
    }
}

/// A body ended inside its JSON is cut short (retried); any other error is the body's.
fn failure(e: StreamError, endpoint: &Endpoint) -> Failure {
    if e.eof {
        return Failure::CutShort(JsonPlace::at(e.reason, e.line, e.column));
    }
    Failure::Permanent(Error::Decode {
        endpoint: endpoint.name.clone(),
        reason: e.reason,
        line: e.line,
        column: e.column,
        snippet: e.snippet,
    })
}
