//! The per-path rate limit and the bound on requests in flight, seen from outside the client.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use env0_api::{AssignmentScope, Env0Client, ProjectId, ThrottleEvent};
use mockito::Matcher;

use crate::support::{config, server};

/// Two calls a minute per path: the query string does not make a new path, another path is not
/// held back, and the third call to a full path waits about a window, saying for which path.
#[tokio::test]
async fn the_limit_counts_each_path_without_its_query() {
    let mut server = server().await;
    let teams = server
        .mock("GET", "/roles/assignments/teams")
        .match_query(Matcher::Any)
        .with_body("[]")
        .expect(2)
        .create_async()
        .await;
    let permissions = server
        .mock("GET", Matcher::Regex("^/permissions/projects/".into()))
        .with_body("[]")
        .expect(3)
        .create_async()
        .await;
    let (sender, mut waits) = tokio::sync::mpsc::unbounded_channel::<ThrottleEvent>();
    let client = Env0Client::new(
        config(&server)
            .requests_per_minute(2)
            .max_retries(0)
            .on_throttle(move |e| {
                let _ = sender.send(e.clone());
            }),
    )
    .unwrap();
    let project = |id: &str| AssignmentScope::Project(ProjectId::new(id));

    client.team_role_assignments(&project("p1")).await.unwrap();
    client.team_role_assignments(&project("p2")).await.unwrap();
    for p in ["p1", "p2", "p3"] {
        client
            .project_user_permissions(&ProjectId::new(p))
            .await
            .unwrap();
    }
    assert!(waits.try_recv().is_err(), "no call waited so far");

    let mut third = tokio::spawn({
        let client = client.clone();
        async move { client.team_role_assignments(&project("p3")).await }
    });
    let event = tokio::select! {
        event = waits.recv() => event.unwrap(),
        answer = &mut third => panic!("the third call to a full path went at once: {answer:?}"),
    };
    third.abort();
    assert_eq!(event.path, "GET /roles/assignments/teams");
    assert!(
        event.wait > Duration::from_secs(60) && event.wait <= Duration::from_secs(61),
        "{event:?}"
    );
    teams.assert_async().await;
    permissions.assert_async().await;
}

/// A server on threads that answers every request after `hold` and records the most requests
/// it had in flight at once.
fn counting_server(hold: Duration) -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let in_flight = Arc::new(AtomicUsize::new(0));
    let most = Arc::new(AtomicUsize::new(0));
    let seen = Arc::clone(&most);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let in_flight = Arc::clone(&in_flight);
            let most = Arc::clone(&most);
            std::thread::spawn(move || {
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") {
                    match stream.read(&mut byte) {
                        Ok(1) => head.push(byte[0]),
                        _ => return,
                    }
                }
                let now = in_flight.fetch_add(1, Ordering::SeqCst) + 1;
                most.fetch_max(now, Ordering::SeqCst);
                std::thread::sleep(hold);
                in_flight.fetch_sub(1, Ordering::SeqCst);
                let _ = stream.write_all(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n[]",
                );
            });
        }
    });
    (url, seen)
}

#[tokio::test]
async fn no_more_requests_in_flight_than_configured() {
    for bound in [1, 3] {
        let (url, most) = counting_server(Duration::from_millis(150));
        let client = Env0Client::new(
            crate::support::config_for(&url)
                .max_concurrent_requests(bound)
                .max_retries(0),
        )
        .unwrap();
        let calls = (0..8).map(|i| {
            let client = client.clone();
            async move {
                client
                    .project_user_permissions(&ProjectId::new(format!("p{i}")))
                    .await
            }
        });
        for answer in futures::future::join_all(calls).await {
            assert!(answer.unwrap().is_empty());
        }
        assert_eq!(most.load(Ordering::SeqCst), bound, "bound {bound}");
    }
}
