//! How a large member list is decoded: while it arrives, on the thread awaiting the request,
//! whatever the parallel decoding setting (which is for lists read whole), with the same result
//! either way.

use std::collections::BTreeSet;

use env0_api::Env0Client;

use crate::support::{ORG, config, ok_json, org, server};

/// A member list above the parallel decoder's threshold (4 MiB), so that decoder would take it
/// were it read whole.
fn large_member_list() -> String {
    let items: Vec<String> = (0..40_000)
        .map(|i| {
            format!(
                r#"{{"role":"User","status":"Active","user":{{"user_id":"auth0|{i:06}","email":"user{i}@example.com","name":"User Number {i}","created_at":"2024-01-02T03:04:05.000Z"}}}}"#
            )
        })
        .collect();
    let body = format!("[{}]", items.join(","));
    assert!(body.len() > 4 * 1024 * 1024);
    body
}

/// The members' ids in the order returned, and the names of the threads `convert` ran on.
async fn decode_on(client: &Env0Client) -> (Vec<String>, BTreeSet<String>) {
    let (seen, _) = client
        .organization_users_with(&org(), |m, _: &mut Vec<()>| {
            let thread = std::thread::current();
            Some((
                m.user.user_id.as_str().to_owned(),
                thread.name().unwrap_or("unnamed").to_owned(),
            ))
        })
        .await
        .unwrap();
    let ids = seen.iter().map(|(id, _)| id.clone()).collect();
    let threads = seen.into_iter().map(|(_, thread)| thread).collect();
    (ids, threads)
}

#[tokio::test]
async fn a_large_member_list_is_decoded_as_it_arrives_on_the_awaiting_thread() {
    let body = large_member_list();
    let path = format!("/organizations/{ORG}/users");
    let want: Vec<String> = (0..40_000).map(|i| format!("auth0|{i:06}")).collect();

    let mut first = server().await;
    let mock = ok_json(&mut first, &path, "", &body).await;
    let parallel = Env0Client::new(config(&first)).unwrap();
    let (ids, threads) = decode_on(&parallel).await;
    mock.assert_async().await;
    assert_eq!(ids, want);
    let here = std::thread::current()
        .name()
        .unwrap_or("unnamed")
        .to_owned();
    assert_eq!(threads, BTreeSet::from([here.clone()]), "streamed here");

    let mut second = server().await;
    let mock = ok_json(&mut second, &path, "", &body).await;
    let serial = Env0Client::new(config(&second).parallel_decoding(false)).unwrap();
    let (ids, threads) = decode_on(&serial).await;
    mock.assert_async().await;
    assert_eq!(ids, want, "the same members in the same order");
    assert_eq!(threads, BTreeSet::from([here]), "streamed here");
}
