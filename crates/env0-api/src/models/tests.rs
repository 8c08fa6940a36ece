//! Wire models against env0's JSON: lenient fields, both team-list shapes, timestamps, round trips.

use chrono::{DateTime, Utc};

use super::scalars::utc_millis;
use super::*;
use crate::ids::RoleId;

/// What chrono's RFC 3339 parser makes of `text`, in UTC.
fn rfc3339(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|dt| dt.with_timezone(&Utc))
}

proptest::proptest! {
    /// The direct reading agrees with chrono's RFC 3339 parser on the usual form, for any
    /// digits in every field (impossible dates and times included, which both refuse).
    #[test]
    fn the_usual_form_reads_as_rfc3339_does(
        text in r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{3})?Z"
    ) {
        let general = rfc3339(&text);
        let direct = utc_millis(&text);
        // chrono also reads a leap second (`:60`), which the direct path leaves to it.
        if direct.is_some() || !text.contains(":60") {
            proptest::prop_assert_eq!(direct, general);
        }
    }

    /// The same on mostly possible dates and times (the digits above rarely make one).
    #[test]
    fn possible_times_read_as_rfc3339_does(
        text in r"[12][0-9]{3}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]{3})?Z"
    ) {
        proptest::prop_assert_eq!(utc_millis(&text), rfc3339(&text));
    }
}

#[test]
fn the_direct_reading_leaves_every_other_form_to_the_general_parsers() {
    for text in [
        "2024-01-02T03:04:05.6Z",
        "2024-01-02T03:04:05.678+00:00",
        "2024-01-02 03:04:05.678Z",
        "2024-01-02T03:04:05.678z",
        "2024-02-30T03:04:05.678Z",
        "2024-01-02T24:00:00.000Z",
        "+024-01-02T03:04:05.678Z",
        "2024-01-02T03:04:05.6７Z",
    ] {
        assert_eq!(utc_millis(text), None, "{text}");
    }
    assert_eq!(
        Timestamp::parse("2024-01-02T03:04:05.678Z").as_datetime(),
        rfc3339("2024-01-02T03:04:05.678Z")
    );
    assert_eq!(
        Timestamp::parse("2016-12-31T23:59:60.000Z")
            .as_datetime()
            .map(|dt| dt.timestamp()),
        Some(1_483_228_799),
        "a leap second still parses, through chrono"
    );
}

#[test]
fn timestamp_formats() {
    let millis = Timestamp::parse("2024-01-02T03:04:05.000Z");
    assert_eq!(millis.to_string(), "2024-01-02T03:04:05.000Z");
    let offset = Timestamp::parse("2024-01-02T05:04:05+02:00");
    assert_eq!(offset, millis);
    assert_eq!(Timestamp::parse("2024-01-02 03:04:05"), millis);
    assert_eq!(Timestamp::parse("2024-01-02T03:04:05.000"), millis);
    assert_eq!(
        Timestamp::parse("2024-01-02").to_string(),
        "2024-01-02T00:00:00.000Z"
    );
    assert_eq!(
        Timestamp::parse("last tuesday"),
        Timestamp::Raw("last tuesday".into())
    );
    assert_eq!(Timestamp::from_epoch(1_704_164_645_000), millis);
    assert_eq!(Timestamp::from_epoch(1_704_164_645), millis);
}

#[test]
fn roles_read_builtins_exactly() {
    assert_eq!(Role::parse("Admin"), Some(Role::Admin));
    assert_eq!(Role::parse("User"), Some(Role::User));
    assert_eq!(
        Role::parse("admin"),
        Some(Role::Custom(RoleId::new("admin")))
    );
    assert_eq!(Role::parse(""), None);
    assert_eq!(ProjectRole::parse("Deployer"), Some(ProjectRole::Deployer));
    assert_eq!(
        ProjectRole::parse("User"),
        Some(ProjectRole::Custom(RoleId::new("User")))
    );
}

#[test]
fn team_role_assignment_reads_role_per_scope() {
    let a: TeamRoleAssignment =
        serde_json::from_str(r#"{"id":"a1","teamId":"t1","role":"Viewer"}"#).unwrap();
    assert_eq!(a.project_role(), Some(ProjectRole::Viewer));
    assert_eq!(a.org_role(), Some(Role::Custom(RoleId::new("Viewer"))));
}

#[test]
fn teams_page_reads_both_shapes() {
    let bare: TeamsPage = serde_json::from_str(r#"[{"id":"t1"}]"#).unwrap();
    assert_eq!(bare.teams.len(), 1);
    assert_eq!(bare.next_page_key, None);
    let env: TeamsPage =
        serde_json::from_str(r#"{"extra":1,"teams":[{"id":"t1"}],"nextPageKey":"k"}"#).unwrap();
    assert_eq!(env.next_page_key.as_deref(), Some("k"));
    let last: TeamsPage = serde_json::from_str(r#"{"teams":[],"nextPageKey":""}"#).unwrap();
    assert_eq!(last.next_page_key, None);
    let err = serde_json::from_str::<TeamsPage>(r#"{"items":[]}"#).unwrap_err();
    assert!(err.to_string().contains("missing field `teams`"), "{err}");
}

#[test]
fn serializing_writes_the_wire_names_back() {
    let wire = r#"{"id":"k1","name":"ci","apiKeyId":"abc","organizationId":"o1",
        "organizationRole":"c0ffee","lastUsedAt":"","createdAt":"2024-01-02T03:04:05Z",
        "createdByUser":{"user_id":"u1","given_name":"Ann","last_login":"soon"}}"#;
    let key: ApiKey = serde_json::from_str(wire).unwrap();
    let json = serde_json::to_value(&key).unwrap();
    assert_eq!(json["apiKeyId"], "abc");
    assert_eq!(json["organizationRole"], "c0ffee");
    assert_eq!(json["lastUsedAt"], serde_json::Value::Null);
    assert_eq!(json["createdAt"], "2024-01-02T03:04:05.000Z");
    assert_eq!(json["createdByUser"]["given_name"], "Ann");
    assert_eq!(json["createdByUser"]["last_login"], "soon");
    let again: ApiKey = serde_json::from_value(json).unwrap();
    assert_eq!(again, key);
}
