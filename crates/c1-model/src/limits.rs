//! Size limits: those of `c1.connector.v2` (its protoc-gen-validate rules, see
//! `docs/c1z-format.md` §2) and the cap on profile text, with the functions that cut text to them.
//!
//! Text is always cut at a UTF-8 character boundary, so what is kept is the longest prefix that
//! fits and is still valid text.

/// Every id: `ResourceId.resource_type`, `ResourceId.resource`, `ResourceType.id`,
/// `Entitlement.id` and `Grant.id` hold 1 to 1024 bytes.
pub const MAX_ID_BYTES: usize = 1024;

/// `display_name` of resources, resource types and entitlements.
pub const MAX_DISPLAY_NAME_BYTES: usize = 1024;

/// `Status.details` and `UserTrait.Status.details`.
pub const MAX_STATUS_DETAILS_BYTES: usize = 1024;

/// `description` of resources and entitlements.
pub const MAX_DESCRIPTION_BYTES: usize = 2048;

/// `description` of resource types.
pub const MAX_RESOURCE_TYPE_DESCRIPTION_BYTES: usize = 4096;

/// Every string value of a profile the builders write (`profile(key, value)`). Not a protocol
/// rule: a profile is free-form, but a value this long is not a person's data any more, and each
/// user's profile is stored twice.
pub const MAX_PROFILE_TEXT_BYTES: usize = 64 * 1024;

/// The longest prefix of `text` of at most `max` bytes that ends at a character boundary.
///
/// ```
/// assert_eq!(c1_model::limits::truncated("héllo", 2), "h");
/// assert_eq!(c1_model::limits::truncated("héllo", 3), "hé");
/// assert_eq!(c1_model::limits::truncated("short", 1024), "short");
/// ```
pub fn truncated(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    // A character is at most four bytes: at most three steps back.
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text.get(..end).unwrap_or_default()
}

/// Cuts `text` to [`truncated`]`(text, max)` in place and gives its memory back. Returns the
/// length it had when it was cut, `None` when it fitted.
pub fn truncate(text: &mut String, max: usize) -> Option<usize> {
    let len = text.len();
    if len <= max {
        return None;
    }
    let end = truncated(text, max).len();
    text.truncate(end);
    text.shrink_to_fit();
    Some(len)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        /// The prefix kept is valid text, fits, and is the longest such prefix.
        #[test]
        fn keeps_the_longest_prefix_that_fits(text in "\\PC{0,40}", max in 0_usize..100) {
            let kept = truncated(&text, max);
            prop_assert!(text.starts_with(kept));
            prop_assert!(kept.len() <= max);
            if kept.len() < text.len() {
                // One more character would not fit.
                let next = text[kept.len()..].chars().next().unwrap();
                prop_assert!(kept.len() + next.len_utf8() > max);
            }
            let mut owned = text.clone();
            let cut = truncate(&mut owned, max);
            prop_assert_eq!(owned.as_str(), kept);
            prop_assert_eq!(cut, (text.len() > max).then_some(text.len()));
        }
    }

    #[test]
    fn cuts_before_a_character_that_straddles_the_limit() {
        let text = "é".repeat(600); // 1200 bytes, two per character
        assert_eq!(truncated(&text, 1023).len(), 1022);
        assert_eq!(truncated(&text, 1024).len(), 1024);
        let mut owned = format!("a{text}");
        assert_eq!(truncate(&mut owned, 1024), Some(1201));
        assert_eq!(owned.len(), 1023);
        assert!(owned.capacity() < 1201, "the cut-off memory is given back");
    }
}
