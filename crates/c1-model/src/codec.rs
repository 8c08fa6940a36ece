//! Deterministic protobuf encoding and decoding, and timestamp conversions.

use chrono::{DateTime, Utc};
use prost::{Message, Name};
use prost_types::Timestamp;

use crate::DecodeError;

/// Encodes `message` to protobuf bytes.
///
/// The encoding is deterministic: the same value always gives the same bytes. prost writes fields
/// in field-number order, and every map in this crate's types (including `google.protobuf.Struct`
/// profiles) is a `BTreeMap`, so map entries are written in key order whatever order they were
/// inserted in. This is what the c1z format requires of its `data` columns.
pub fn encode<M: Message>(message: &M) -> Vec<u8> {
    message.encode_to_vec()
}

/// Decodes protobuf `bytes` into `M`.
///
/// Unknown fields (for example ones added by newer SDKs) are skipped, like baton's readers do.
pub fn decode<M: Message + Name + Default>(bytes: &[u8]) -> Result<M, DecodeError> {
    M::decode(bytes).map_err(|source| DecodeError::Protobuf {
        message: M::full_name(),
        source,
    })
}

/// Converts a UTC time to a `google.protobuf.Timestamp`.
///
/// chrono's leap-second representation (nanoseconds ≥ 1 s) is clamped to the last nanosecond of
/// the second, since `Timestamp.nanos` must stay below one second.
pub fn timestamp(time: DateTime<Utc>) -> Timestamp {
    let nanos = time.timestamp_subsec_nanos().min(999_999_999);
    Timestamp {
        seconds: time.timestamp(),
        nanos: nanos as i32,
    }
}

/// Converts a `google.protobuf.Timestamp` back to a UTC time.
///
/// Out-of-range nanoseconds are normalised first; `None` if the result is outside chrono's range.
pub fn from_timestamp(timestamp: &Timestamp) -> Option<DateTime<Utc>> {
    let normalized = timestamp.normalized();
    let nanos = u32::try_from(normalized.nanos).ok()?;
    DateTime::from_timestamp(normalized.seconds, nanos)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pb;

    #[test]
    fn timestamp_round_trips_with_nanoseconds() {
        let time = DateTime::parse_from_rfc3339("2024-05-06T07:08:09.123456789Z")
            .unwrap()
            .to_utc();
        let ts = timestamp(time);
        assert_eq!(
            ts,
            Timestamp {
                seconds: 1_714_979_289,
                nanos: 123_456_789
            }
        );
        assert_eq!(from_timestamp(&ts), Some(time));
    }

    #[test]
    fn timestamp_before_epoch_round_trips() {
        let time = DateTime::parse_from_rfc3339("1969-12-31T23:59:59.5Z")
            .unwrap()
            .to_utc();
        let ts = timestamp(time);
        assert_eq!(
            ts,
            Timestamp {
                seconds: -1,
                nanos: 500_000_000
            }
        );
        assert_eq!(from_timestamp(&ts), Some(time));
    }

    #[test]
    fn unnormalised_timestamp_is_normalised() {
        let ts = Timestamp {
            seconds: 10,
            nanos: -1,
        };
        let time = from_timestamp(&ts).unwrap();
        assert_eq!(time.timestamp(), 9);
        assert_eq!(time.timestamp_subsec_nanos(), 999_999_999);
    }

    #[test]
    fn timestamp_out_of_chrono_range_is_none() {
        assert_eq!(
            from_timestamp(&Timestamp {
                seconds: i64::MAX,
                nanos: 0
            }),
            None
        );
    }

    #[test]
    fn decode_error_names_the_message_and_keeps_the_source() {
        // Field 1 (id), wire type 2, claims 5 bytes but only 1 follows.
        let err = decode::<pb::Resource>(&[0x0A, 0x05, 0x01]).unwrap_err();
        assert_eq!(err.to_string(), "invalid c1.connector.v2.Resource protobuf");
        assert!(std::error::Error::source(&err).is_some());
    }
}
