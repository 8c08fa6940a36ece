//! Converting env0's wire values into principals: every field, the cuts, the nasty cases.

use super::*;

fn member(json: &str) -> (Principal, Vec<Warning>) {
    let mut warnings = Vec::new();
    let principal = Principal::from_member(serde_json::from_str(json).unwrap(), &mut warnings);
    (principal, warnings)
}

#[test]
fn membership_follows_the_status_rules() {
    assert_eq!(Membership::parse("Active".into()), Some(Membership::Active));
    for raw in ["Invited", "invited", "PENDING", "Pending"] {
        assert_eq!(
            Membership::parse(raw.into()),
            Some(Membership::InvitePending(raw.into()))
        );
    }
    assert_eq!(
        Membership::parse("active".into()),
        Some(Membership::Other("active".into()))
    );
    assert_eq!(
        Membership::parse("Suspended".into()),
        Some(Membership::Other("Suspended".into()))
    );
    assert_eq!(Membership::parse("  ".into()), None);
    assert_eq!(
        Membership::parse("Invited".into()).unwrap().raw(),
        "Invited"
    );
}

#[test]
fn member_display_name_falls_back_in_order() {
    let (p, _) =
        member(r#"{"user":{"user_id":"u1","name":" Ann B ","given_name":"A","email":"a@x"}}"#);
    assert_eq!(p.display_name, "Ann B");
    let (p, _) =
        member(r#"{"user":{"user_id":"u1","given_name":"Ann","family_name":"B","email":"a@x"}}"#);
    assert_eq!(p.display_name, "Ann B");
    let (p, _) = member(r#"{"user":{"user_id":"u1","family_name":"B","email":"a@x"}}"#);
    assert_eq!(p.display_name, "B");
    let (p, _) = member(r#"{"user":{"user_id":"u1","email":"a@x"}}"#);
    assert_eq!(p.display_name, "a@x");
    let (p, _) = member(r#"{"user":{"user_id":"u1"}}"#);
    assert_eq!(p.display_name, "u1");
}

#[test]
fn texts_over_64_kib_are_cut_at_a_character_boundary_with_a_warning_each() {
    // Two bytes a character, one byte over: the cut falls inside a character.
    let long = format!("x{}", "é".repeat(MAX_TEXT_BYTES / 2));
    let kept = limits::truncated(&long, MAX_TEXT_BYTES);
    assert_eq!(kept.len(), MAX_TEXT_BYTES - 1);
    let json = serde_json::json!({
        "role": long, "status": long,
        "user": { "user_id": "u1", "name": format!("  {long}  "), "email": long,
                  "given_name": long, "family_name": long }
    });
    let mut warnings = Vec::new();
    let p = Principal::from_member(serde_json::from_value(json).unwrap(), &mut warnings);
    // (`assert!`, not `assert_eq!`: a failure would print 64 KiB texts.)
    assert!(p.display_name == kept, "trimmed, then cut");
    for text in [&p.email, &p.given_name, &p.family_name] {
        assert!(text.as_deref() == Some(kept));
    }
    assert!(p.role.as_ref().map(OrgRole::id) == Some(kept));
    assert!(p.membership.as_ref().map(Membership::raw) == Some(kept));
    let cut = |field, bytes| Warning::TextCut {
        principal: "u1".into(),
        field,
        bytes,
    };
    let len = long.len();
    assert_eq!(
        warnings,
        [
            cut("email", len),
            cut("given_name", len),
            cut("family_name", len),
            cut("name", len),
            cut("status", len),
            cut("role", len),
        ]
    );
    assert_eq!(
        warnings[3].to_string(),
        format!("principal `u1`: name is {len} bytes; only its first 65536 bytes are kept")
    );

    let key: ApiKey = serde_json::from_value(serde_json::json!({
        "id": "k1", "apiKeyId": long, "organizationRole": long, "createdByUser": { "user_id": long }
    }))
    .unwrap();
    let mut warnings = Vec::new();
    let k = Principal::from_api_key(key, &mut warnings);
    assert!(k.display_name == kept, "falls back to the cut apiKeyId");
    assert!(k.created_by.as_deref() == Some(kept));
    let fields: Vec<&str> = warnings
        .iter()
        .map(|w| match w {
            Warning::TextCut { field, .. } => *field,
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(
        fields,
        ["apiKeyId", "createdByUser.user_id", "organizationRole"]
    );
}

#[test]
fn names_derived_from_texts_kept_whole_elsewhere_are_cut_silently() {
    let half = "n".repeat(MAX_TEXT_BYTES - 10);
    let (p, warnings) = member(&format!(
        r#"{{"user":{{"user_id":"u1","given_name":"{half}","family_name":"{half}"}}}}"#
    ));
    assert_eq!(p.display_name.len(), MAX_TEXT_BYTES);
    assert!(p.given_name.as_deref() == Some(half.as_str()));
    assert!(warnings.is_empty(), "{warnings:?}");

    let id = "i".repeat(MAX_TEXT_BYTES + 1);
    let (p, warnings) = member(&format!(r#"{{"user":{{"user_id":"{id}"}}}}"#));
    assert!(p.id == id, "ids are never cut");
    assert_eq!(p.display_name.len(), MAX_TEXT_BYTES);
    assert!(warnings.is_empty(), "{warnings:?}");
}

#[test]
fn trimming_keeps_the_text_between_the_spaces() {
    assert_eq!(trimmed("  a b \t".to_owned()), "a b");
    assert_eq!(trimmed("ab".to_owned()), "ab");
    assert_eq!(trimmed(" é ".to_owned()), "é");
    assert_eq!(trimmed("   ".to_owned()), "");
}

#[test]
fn raw_timestamps_become_none_with_a_warning() {
    let (p, warnings) = member(
        r#"{"user":{"user_id":"u1","created_at":"soon","last_login":"2024-01-02T03:04:05Z"}}"#,
    );
    assert_eq!(p.created_at, None);
    assert_eq!(p.last_sign_in, DateTime::from_timestamp(1_704_164_645, 0));
    assert_eq!(
        warnings,
        vec![Warning::UnparseableTimestamp {
            principal: "u1".into(),
            field: "created_at",
            raw: "soon".into()
        }]
    );
    assert_eq!(
        warnings[0].to_string(),
        "principal `u1`: created_at `soon` could not be read as a timestamp; left empty"
    );
}

#[test]
fn api_key_takes_gaps_from_its_member_record_only() {
    let mut warnings = Vec::new();
    let key: ApiKey = serde_json::from_str(
        r#"{"id":"k1","apiKeyId":"AK","createdByUser":{"user_id":"creator"}}"#,
    )
    .unwrap();
    let mut key = Principal::from_api_key(key, &mut warnings);
    assert_eq!(key.display_name, "AK");
    assert_eq!(key.created_by.as_deref(), Some("creator"));
    let (m, _) = member(
        r#"{"role":"Admin","status":"Invited","user":{"user_id":"k1","name":"Key as member","email":"k@x","created_at":"2024-01-01"}}"#,
    );
    key.absorb_member(m);
    assert_eq!(key.kind, PrincipalKind::ApiKey);
    assert_eq!(key.display_name, "AK");
    assert_eq!(key.role, Some(OrgRole::Admin));
    assert_eq!(key.email, None);
    assert_eq!(key.membership, None);
    assert!(key.created_at.is_some());
    assert!(warnings.is_empty());
}
