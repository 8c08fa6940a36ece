//! A compact form of [`Principal`], how the directory and the listing snapshot keep principals.
//!
//! A sync keeps every principal of the organization alive while it pages through them (100k and
//! more). A [`Principal`] is about 300 bytes plus one heap allocation per text field; a
//! [`PackedPrincipal`] keeps all its text in one allocation with 32-bit end offsets, which
//! roughly halves the memory. Pages are mapped from a borrowed view ([`Stored::fields`]); the
//! rare change (a key also listed as a member, a custom role name) unpacks and packs again.

use chrono::{DateTime, Utc};

use crate::domain::{Membership, OrgRole, Principal, PrincipalKind};
use crate::mapping::{Fields, MembershipRef};

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

/// Which [`OrgRole`] (or none), without its text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RoleTag {
    None,
    Admin,
    User,
    Custom,
}

/// Which [`Membership`] (or none), without its text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MembershipTag {
    None,
    Active,
    InvitePending,
    Other,
}

/// One principal with its text in a single allocation.
#[derive(Debug)]
pub(crate) struct PackedPrincipal {
    text: Box<str>,
    /// End offset of each text field in `text`; a field starts where the previous one ends.
    ends: [u32; FIELDS],
    /// Bit `i` set when optional field `i` is present (an empty string is kept as empty).
    present: u16,
    kind: PrincipalKind,
    role: RoleTag,
    membership: MembershipTag,
    created_at: Option<DateTime<Utc>>,
    last_sign_in: Option<DateTime<Utc>>,
}

impl PackedPrincipal {
    /// Packs `p`, or gives it back when its text does not fit 32-bit offsets.
    pub(crate) fn pack(p: Principal) -> Result<PackedPrincipal, Box<Principal>> {
        let (role, role_id, role_name) = match &p.role {
            None => (RoleTag::None, None, None),
            Some(OrgRole::Admin) => (RoleTag::Admin, None, None),
            Some(OrgRole::User) => (RoleTag::User, None, None),
            Some(OrgRole::Custom { id, name }) => {
                (RoleTag::Custom, Some(id.as_str()), name.as_deref())
            }
        };
        let (membership, membership_raw) = match &p.membership {
            None => (MembershipTag::None, None),
            Some(Membership::Active) => (MembershipTag::Active, None),
            Some(Membership::InvitePending(raw)) => (MembershipTag::InvitePending, Some(raw)),
            Some(Membership::Other(raw)) => (MembershipTag::Other, Some(raw)),
        };
        let fields: [Option<&str>; FIELDS] = [
            Some(p.id.as_str()),
            p.email.as_deref(),
            Some(p.display_name.as_str()),
            p.given_name.as_deref(),
            p.family_name.as_deref(),
            role_id,
            role_name,
            membership_raw.map(String::as_str),
            p.api_key_id.as_deref(),
            p.created_by.as_deref(),
        ];
        let total: usize = fields.iter().flatten().map(|f| f.len()).sum();
        if u32::try_from(total).is_err() {
            return Err(Box::new(p));
        }
        let mut text = String::with_capacity(total);
        let mut ends = [0u32; FIELDS];
        let mut present = 0u16;
        for (i, field) in fields.iter().enumerate() {
            if let Some(value) = field {
                text.push_str(value);
                present |= 1 << i;
            }
            if let Some(end) = ends.get_mut(i) {
                *end = u32::try_from(text.len()).unwrap_or(u32::MAX);
            }
        }
        Ok(PackedPrincipal {
            text: text.into_boxed_str(),
            ends,
            present,
            kind: p.kind,
            role,
            membership,
            created_at: p.created_at,
            last_sign_in: p.last_sign_in,
        })
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

    /// The id's length in bytes, read from the offsets only (not the text).
    fn id_len(&self) -> usize {
        let [id_end, ..] = self.ends;
        id_end as usize
    }

    fn owned(&self, i: usize) -> Option<String> {
        self.field(i).map(str::to_owned)
    }

    /// The fields the mapping reads, borrowed from the packed text.
    pub(crate) fn fields(&self) -> Fields<'_> {
        let text = |i| self.field(i).unwrap_or_default();
        let (role_id, role_name) = match self.role {
            RoleTag::None => (None, None),
            RoleTag::Admin => (Some("Admin"), Some("Admin")),
            RoleTag::User => (Some("User"), Some("User")),
            RoleTag::Custom => (Some(text(ROLE_ID)), self.field(ROLE_NAME)),
        };
        let membership = match self.membership {
            MembershipTag::None => None,
            MembershipTag::Active => Some(MembershipRef::Active),
            MembershipTag::InvitePending => Some(MembershipRef::InvitePending(text(MEMBERSHIP))),
            MembershipTag::Other => Some(MembershipRef::Other(text(MEMBERSHIP))),
        };
        Fields {
            id: text(ID),
            kind: self.kind,
            email: self.field(EMAIL),
            display_name: text(DISPLAY_NAME),
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
    pub(crate) fn unpack(&self) -> Principal {
        let role = match self.role {
            RoleTag::None => None,
            RoleTag::Admin => Some(OrgRole::Admin),
            RoleTag::User => Some(OrgRole::User),
            RoleTag::Custom => Some(OrgRole::Custom {
                id: self.owned(ROLE_ID).unwrap_or_default(),
                name: self.owned(ROLE_NAME),
            }),
        };
        let raw = || self.owned(MEMBERSHIP).unwrap_or_default();
        let membership = match self.membership {
            MembershipTag::None => None,
            MembershipTag::Active => Some(Membership::Active),
            MembershipTag::InvitePending => Some(Membership::InvitePending(raw())),
            MembershipTag::Other => Some(Membership::Other(raw())),
        };
        Principal {
            id: self.owned(ID).unwrap_or_default(),
            kind: self.kind,
            email: self.owned(EMAIL),
            display_name: self.owned(DISPLAY_NAME).unwrap_or_default(),
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
}

/// A principal of the snapshot: packed, or as is in the (theoretical) case its text exceeds
/// 4 GiB.
#[derive(Debug)]
pub(crate) enum Stored {
    Packed(PackedPrincipal),
    Plain(Box<Principal>),
}

impl Stored {
    pub(crate) fn new(p: Principal) -> Stored {
        match PackedPrincipal::pack(p) {
            Ok(packed) => Stored::Packed(packed),
            Err(plain) => Stored::Plain(plain),
        }
    }

    /// The fields the mapping reads.
    pub(crate) fn fields(&self) -> Fields<'_> {
        match self {
            Stored::Packed(packed) => packed.fields(),
            Stored::Plain(plain) => Fields::of(plain),
        }
    }

    /// The principal, unpacked.
    pub(crate) fn to_principal(&self) -> Principal {
        match self {
            Stored::Packed(packed) => packed.unpack(),
            Stored::Plain(plain) => (**plain).clone(),
        }
    }

    /// Reads one byte of each 64 bytes of the principal's text (so every cache line it spans),
    /// to bring it into the cache before it is mapped; the result means nothing.
    pub(crate) fn warm(&self) -> u8 {
        match self {
            Stored::Packed(packed) => packed
                .text
                .as_bytes()
                .iter()
                .step_by(64)
                .fold(0, |acc, b| acc ^ b),
            Stored::Plain(_) => 0,
        }
    }

    /// The principal id's length in bytes, without reading its text (which, for a list in
    /// response order, sits at scattered places in memory).
    pub(crate) fn id_len(&self) -> usize {
        match self {
            Stored::Packed(packed) => packed.id_len(),
            Stored::Plain(plain) => plain.id.len(),
        }
    }

    /// The principal id.
    pub(crate) fn id(&self) -> &str {
        match self {
            Stored::Packed(packed) => packed.field(ID).unwrap_or_default(),
            Stored::Plain(plain) => &plain.id,
        }
    }

    /// The custom role id and name (`None` when the principal holds no custom role).
    pub(crate) fn custom_role(&self) -> Option<(&str, Option<&str>)> {
        match self {
            Stored::Packed(packed) => (packed.role == RoleTag::Custom).then(|| {
                (
                    packed.field(ROLE_ID).unwrap_or_default(),
                    packed.field(ROLE_NAME),
                )
            }),
            Stored::Plain(plain) => match &plain.role {
                Some(OrgRole::Custom { id, name }) => Some((id.as_str(), name.as_deref())),
                _ => None,
            },
        }
    }

    /// Kind and membership status, read without touching the packed text (which, for a list
    /// sorted by id, sits at scattered places in memory).
    pub(crate) fn standing(&self) -> (PrincipalKind, MembershipTag) {
        match self {
            Stored::Packed(packed) => (packed.kind, packed.membership),
            Stored::Plain(plain) => (
                plain.kind,
                match &plain.membership {
                    None => MembershipTag::None,
                    Some(Membership::Active) => MembershipTag::Active,
                    Some(Membership::InvitePending(_)) => MembershipTag::InvitePending,
                    Some(Membership::Other(_)) => MembershipTag::Other,
                },
            ),
        }
    }

    /// Changes the principal with `change` (unpacking and packing it again).
    pub(crate) fn update(&mut self, change: impl FnOnce(&mut Principal)) {
        let mut principal = self.to_principal();
        change(&mut principal);
        *self = Stored::new(principal);
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
            let stored = Stored::new(p.clone());
            prop_assert!(matches!(stored, Stored::Packed(_)));
            prop_assert_eq!(&stored.to_principal(), &p);
            prop_assert_eq!(format!("{:?}", stored.fields()), format!("{:?}", Fields::of(&p)));
            prop_assert_eq!(stored.id(), p.id.as_str());
            prop_assert_eq!(stored.id_len(), p.id.len());
            let custom = match &p.role {
                Some(OrgRole::Custom { id, name }) => Some((id.as_str(), name.as_deref())),
                _ => None,
            };
            prop_assert_eq!(stored.custom_role(), custom);
            let plain = Stored::Plain(Box::new(p.clone()));
            prop_assert_eq!(stored.standing(), plain.standing());
            prop_assert_eq!(plain.id_len(), p.id.len());
            let mut updated = stored;
            updated.update(|principal| principal.display_name.push('!'));
            prop_assert_eq!(updated.fields().display_name, format!("{}!", p.display_name));
        }
    }

    fn roundtrip(p: &Principal) {
        let stored = Stored::new(p.clone());
        assert!(matches!(stored, Stored::Packed(_)));
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
}
