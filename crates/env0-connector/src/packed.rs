//! The packed form of a [`Principal`]: how the directory and the listing keep principals.
//!
//! A sync keeps every principal of the organization alive while it pages through them (100k and
//! more). A [`Principal`] has one heap allocation per text field; a [`PackedPrincipal`] keeps all
//! its text in one allocation with 32-bit end offsets, which roughly halves the memory (see
//! `docs/performance.md`). Pages are mapped from a borrowed view ([`PackedPrincipal::fields`]);
//! the rare change (a key also listed as a member, a custom role name) unpacks and packs again.
//!
//! The shapes of a principal, and why each exists: [`Principal`] is the domain model (public,
//! owned); `PackedPrincipal` is how it is stored during a sync (memory); `mapping::Fields` is
//! the borrowed view the mapping reads, from either. The packed form's role and membership tags
//! are derived from the domain enums (`OrgRoleTag`, `MembershipTag`), so a new variant is one
//! edit there and a compile error here.

use c1_model::limits::MAX_ID_BYTES;
use chrono::{DateTime, Utc};

use crate::domain::{
    MAX_TEXT_BYTES, Membership, MembershipTag, OrgRole, OrgRoleTag, Principal, PrincipalKind,
    Warning, shorten,
};
use crate::mapping::{Fields, MembershipView};

/// Text fields, in storage order.
const ID: usize = 0;
const EMAIL: usize = 1;
const DISPLAY_NAME: usize = 2;
const GIVEN_NAME: usize = 3;
const FAMILY_NAME: usize = 4;
const ROLE_ID: usize = 5;
const ROLE_NAME: usize = 6;
const MEMBERSHIP: usize = 7;
const API_KEY_ID: usize = 8;
const CREATED_BY: usize = 9;
const FIELDS: usize = 10;

// A packed principal's id is at most `MAX_ID_BYTES` (longer ones are refused by `admit`) and
// every other text at most `MAX_TEXT_BYTES` (the domain cuts them), so its offsets fit 32 bits.
const _: () = assert!(MAX_ID_BYTES + (FIELDS - 1) * MAX_TEXT_BYTES <= u32::MAX as usize);

/// One principal with its text in a single allocation.
#[derive(Debug)]
pub(crate) struct PackedPrincipal {
    text: Box<str>,
    /// End offset of each text field in `text`; a field starts where the previous one ends.
    ends: [u32; FIELDS],
    /// Bit `i` set when optional field `i` is present (an empty string is kept as empty).
    present: u16,
    kind: PrincipalKind,
    role: Option<OrgRoleTag>,
    membership: Option<MembershipTag>,
    created_at: Option<DateTime<Utc>>,
    last_sign_in: Option<DateTime<Utc>>,
}

/// Packs `p`, or drops it with a [`Warning::IdTooLong`] when its id is longer than ConductorOne
/// accepts: the engine would skip it anyway, and a huge id would otherwise be copied into the
/// resource, its login and its profile first. `source` names the list it came from.
pub(crate) fn admit(
    p: &Principal,
    source: &'static str,
    warnings: &mut Vec<Warning>,
) -> Option<PackedPrincipal> {
    if p.id.len() > MAX_ID_BYTES {
        warnings.push(Warning::IdTooLong {
            id: shorten(&p.id),
            bytes: p.id.len(),
            source,
        });
        return None;
    }
    Some(PackedPrincipal::pack(p))
}

impl PackedPrincipal {
    /// Packs `p`, whose id is at most [`MAX_ID_BYTES`] and every other text at most
    /// [`MAX_TEXT_BYTES`] (see [`admit`]).
    fn pack(p: &Principal) -> PackedPrincipal {
        let (role_id, role_name) = match &p.role {
            Some(OrgRole::Custom { id, name }) => (Some(id.as_str()), name.as_deref()),
            _ => (None, None),
        };
        let membership_raw = match &p.membership {
            Some(Membership::InvitePending(raw) | Membership::Other(raw)) => Some(raw.as_str()),
            _ => None,
        };
        let fields: [Option<&str>; FIELDS] = [
            Some(p.id.as_str()),
            p.email.as_deref(),
            Some(p.display_name.as_str()),
            p.given_name.as_deref(),
            p.family_name.as_deref(),
            role_id,
            role_name,
            membership_raw,
            p.api_key_id.as_deref(),
            p.created_by.as_deref(),
        ];
        debug_assert!(
            p.id.len() <= MAX_ID_BYTES
                && fields.iter().flatten().all(|f| f.len() <= MAX_TEXT_BYTES),
            "a principal's texts are bounded before it is packed"
        );
        let total: usize = fields.iter().flatten().map(|f| f.len()).sum();
        let mut text = String::with_capacity(total);
        let mut ends = [0u32; FIELDS];
        let mut present = 0u16;
        for ((i, field), end) in fields.iter().enumerate().zip(&mut ends) {
            if let Some(value) = field {
                text.push_str(value);
                present |= 1 << i;
            }
            // Bounded by the assertion above `PackedPrincipal`.
            *end = text.len() as u32;
        }
        PackedPrincipal {
            text: text.into_boxed_str(),
            ends,
            present,
            kind: p.kind,
            role: p.role.as_ref().map(OrgRoleTag::from),
            membership: p.membership.as_ref().map(MembershipTag::from),
            created_at: p.created_at,
            last_sign_in: p.last_sign_in,
        }
    }

    /// Text field `i`, `None` when absent.
    fn field(&self, i: usize) -> Option<&str> {
        if self.present & (1 << i) == 0 {
            return None;
        }
        let start = match i.checked_sub(1) {
            Some(before) => self.ends.get(before).copied(),
            None => Some(0),
        };
        let end = self.ends.get(i).copied();
        let text = start
            .zip(end)
            .and_then(|(start, end)| self.text.get(start as usize..end as usize));
        // `pack` wrote the offsets at character boundaries, in order; nothing changes them.
        debug_assert!(text.is_some(), "packed offsets of field {i} are broken");
        text
    }

    fn text(&self, i: usize) -> &str {
        self.field(i).unwrap_or_default()
    }

    fn owned(&self, i: usize) -> Option<String> {
        self.field(i).map(str::to_owned)
    }

    /// The fields the mapping reads, borrowed from the packed text.
    pub(crate) fn fields(&self) -> Fields<'_> {
        let (role_id, role_name) = match self.role {
            None => (None, None),
            Some(OrgRoleTag::Admin) => (Some("Admin"), Some("Admin")),
            Some(OrgRoleTag::User) => (Some("User"), Some("User")),
            Some(OrgRoleTag::Custom) => (Some(self.text(ROLE_ID)), self.field(ROLE_NAME)),
        };
        let membership = self.membership.map(|tag| MembershipView {
            tag,
            raw: match tag {
                MembershipTag::Active => "Active",
                MembershipTag::InvitePending | MembershipTag::Other => self.text(MEMBERSHIP),
            },
        });
        Fields {
            id: self.text(ID),
            kind: self.kind,
            email: self.field(EMAIL),
            display_name: self.text(DISPLAY_NAME),
            given_name: self.field(GIVEN_NAME),
            family_name: self.field(FAMILY_NAME),
            role_id,
            role_name,
            membership,
            created_at: self.created_at,
            last_sign_in: self.last_sign_in,
            api_key_id: self.field(API_KEY_ID),
            created_by: self.field(CREATED_BY),
        }
    }

    /// The principal, as it was packed.
    pub(crate) fn to_principal(&self) -> Principal {
        let role = self.role.map(|tag| match tag {
            OrgRoleTag::Admin => OrgRole::Admin,
            OrgRoleTag::User => OrgRole::User,
            OrgRoleTag::Custom => OrgRole::Custom {
                id: self.text(ROLE_ID).to_owned(),
                name: self.owned(ROLE_NAME),
            },
        });
        let membership = self.membership.map(|tag| match tag {
            MembershipTag::Active => Membership::Active,
            MembershipTag::InvitePending => Membership::InvitePending(self.text(MEMBERSHIP).into()),
            MembershipTag::Other => Membership::Other(self.text(MEMBERSHIP).into()),
        });
        Principal {
            id: self.text(ID).to_owned(),
            kind: self.kind,
            email: self.owned(EMAIL),
            display_name: self.text(DISPLAY_NAME).to_owned(),
            given_name: self.owned(GIVEN_NAME),
            family_name: self.owned(FAMILY_NAME),
            role,
            membership,
            created_at: self.created_at,
            last_sign_in: self.last_sign_in,
            api_key_id: self.owned(API_KEY_ID),
            created_by: self.owned(CREATED_BY),
        }
    }

    /// Reads one byte of each 64 bytes of the principal's text (so every cache line it spans),
    /// to bring it into the cache before it is mapped; the result means nothing.
    pub(crate) fn warm(&self) -> u8 {
        self.text
            .as_bytes()
            .iter()
            .step_by(64)
            .fold(0, |acc, b| acc ^ b)
    }

    /// The principal id.
    pub(crate) fn id(&self) -> &str {
        self.text(ID)
    }

    /// The organization role as env0 writes it: `Admin`, `User` or the custom role id.
    pub(crate) fn role_value(&self) -> Option<&str> {
        match self.role? {
            OrgRoleTag::Admin => Some("Admin"),
            OrgRoleTag::User => Some("User"),
            OrgRoleTag::Custom => Some(self.text(ROLE_ID)),
        }
    }

    /// The custom role id and name (`None` when the principal holds no custom role).
    pub(crate) fn custom_role(&self) -> Option<(&str, Option<&str>)> {
        (self.role == Some(OrgRoleTag::Custom)).then(|| (self.text(ROLE_ID), self.field(ROLE_NAME)))
    }

    /// Kind and membership status, read without touching the packed text (which, for a list
    /// sorted by id, sits at scattered places in memory).
    pub(crate) fn standing(&self) -> (PrincipalKind, Option<MembershipTag>) {
        (self.kind, self.membership)
    }

    /// Changes the principal with `change` (unpacking and packing it again). `change` keeps
    /// every text within the bounds [`admit`] checked.
    pub(crate) fn update(&mut self, change: impl FnOnce(&mut Principal)) {
        let mut principal = self.to_principal();
        change(&mut principal);
        *self = PackedPrincipal::pack(&principal);
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn text() -> impl Strategy<Value = String> {
        // Empty, short, multi-byte and control characters.
        "\\PC{0,12}|[\\x00é€]{0,3}"
    }

    fn time() -> impl Strategy<Value = Option<DateTime<Utc>>> {
        proptest::option::of(
            (-62_000_000_000_i64..250_000_000_000, 0_u32..1_000_000_000)
                .prop_filter_map("a representable time", |(secs, nanos)| {
                    DateTime::from_timestamp(secs, nanos)
                }),
        )
    }

    fn principal() -> impl Strategy<Value = Principal> {
        let role = proptest::option::of(prop_oneof![
            Just(OrgRole::Admin),
            Just(OrgRole::User),
            (text(), proptest::option::of(text()))
                .prop_map(|(id, name)| OrgRole::Custom { id, name }),
        ]);
        let membership = proptest::option::of(prop_oneof![
            Just(Membership::Active),
            text().prop_map(Membership::InvitePending),
            text().prop_map(Membership::Other),
        ]);
        let kind = prop_oneof![Just(PrincipalKind::Human), Just(PrincipalKind::ApiKey)];
        let names = (
            text(),
            proptest::option::of(text()),
            text(),
            proptest::option::of(text()),
            proptest::option::of(text()),
        );
        let rest = (
            proptest::option::of(text()),
            proptest::option::of(text()),
            time(),
            time(),
        );
        (kind, names, role, membership, rest).prop_map(
            |(
                kind,
                (id, email, display_name, given_name, family_name),
                role,
                membership,
                (api_key_id, created_by, created_at, last_sign_in),
            )| Principal {
                id,
                kind,
                email,
                display_name,
                given_name,
                family_name,
                role,
                membership,
                created_at,
                last_sign_in,
                api_key_id,
                created_by,
            },
        )
    }

    proptest! {
        #![proptest_config(ProptestConfig {
            cases: 1024,
            rng_seed: proptest::test_runner::RngSeed::Fixed(0x9ac4_ed01),
            ..ProptestConfig::default()
        })]

        /// Any principal packs, and reads back as itself through every accessor.
        #[test]
        fn any_principal_round_trips(p in principal()) {
            let stored = PackedPrincipal::pack(&p);
            prop_assert_eq!(&stored.to_principal(), &p);
            prop_assert_eq!(format!("{:?}", stored.fields()), format!("{:?}", Fields::of(&p)));
            prop_assert_eq!(stored.id(), p.id.as_str());
            let custom = match &p.role {
                Some(OrgRole::Custom { id, name }) => Some((id.as_str(), name.as_deref())),
                _ => None,
            };
            prop_assert_eq!(stored.custom_role(), custom);
            prop_assert_eq!(
                stored.standing(),
                (p.kind, p.membership.as_ref().map(MembershipTag::from))
            );
            let mut updated = stored;
            updated.update(|principal| principal.display_name.push('!'));
            prop_assert_eq!(updated.fields().display_name, format!("{}!", p.display_name));
        }
    }

    fn roundtrip(p: &Principal) {
        let stored = PackedPrincipal::pack(p);
        assert_eq!(&stored.to_principal(), p);
        let (packed, plain) = (
            format!("{:?}", stored.fields()),
            format!("{:?}", Fields::of(p)),
        );
        assert_eq!(packed, plain, "the packed fields read as the principal's");
    }

    #[test]
    fn every_field_survives_packing() {
        let mut warnings = Vec::new();
        let member: env0_api::OrganizationUser = serde_json::from_str(
            r#"{"role":"c0ffee","status":"Invited","user":{"user_id":"u1","email":"a@x","name":"Ann","given_name":"Ann","family_name":"B","created_at":"2024-01-02T03:04:05Z"}}"#,
        )
        .unwrap();
        let mut p = Principal::from_member(member, &mut warnings);
        roundtrip(&p);
        if let Some(OrgRole::Custom { name, .. }) = &mut p.role {
            *name = Some(String::new());
        }
        p.membership = Some(Membership::Other("Suspended".into()));
        roundtrip(&p);
        p.role = Some(OrgRole::Admin);
        p.membership = Some(Membership::Active);
        p.email = Some(String::new());
        roundtrip(&p);

        let key: env0_api::ApiKey = serde_json::from_str(
            r#"{"id":"k1","apiKeyId":"AK","organizationRole":"User","createdBy":"me","lastUsedAt":"2024-01-02"}"#,
        )
        .unwrap();
        let k = Principal::from_api_key(key, &mut warnings);
        roundtrip(&k);
        assert!(warnings.is_empty());
    }

    #[test]
    fn an_id_longer_than_conductorone_accepts_is_dropped_with_a_warning() {
        let mut warnings = Vec::new();
        let key: env0_api::ApiKey = serde_json::from_str(&format!(
            r#"{{"id":"{}","apiKeyId":"AK"}}"#,
            "k".repeat(MAX_ID_BYTES + 1)
        ))
        .unwrap();
        let long = Principal::from_api_key(key, &mut warnings);
        assert!(admit(&long, "the API key list", &mut warnings).is_none());
        assert!(
            matches!(&warnings[..], [Warning::IdTooLong { bytes, .. }] if *bytes == MAX_ID_BYTES + 1),
            "{warnings:?}"
        );
        let mut fits = long;
        fits.id.truncate(MAX_ID_BYTES);
        let packed = admit(&fits, "the API key list", &mut warnings).unwrap();
        assert_eq!(packed.to_principal(), fits);
        assert_eq!(warnings.len(), 1);
    }
}
