//! The database thread: batches stored as sent, repeated ids, errors, and the same results without a thread.

use super::rows::Value;
use super::statements::{MAX_ROWS_PER_STATEMENT, parameter, statement_rows};
use super::*;
use crate::store::schema;

#[test]
fn statements_split_a_batch_into_powers_of_two_up_to_the_maximum() {
    for n in [1, 2, 3, 511, 512, 513, 1000, 1024, 4097] {
        let mut left = n;
        let mut sizes = Vec::new();
        while left > 0 {
            let take = statement_rows(left);
            assert!(take.is_power_of_two() && take <= MAX_ROWS_PER_STATEMENT);
            assert!(take <= left);
            sizes.push(take);
            left -= take;
        }
        assert_eq!(sizes.iter().sum::<usize>(), n);
        // Below the maximum, each size is used at most once.
        let small: Vec<_> = sizes
            .iter()
            .filter(|&&s| s < MAX_ROWS_PER_STATEMENT)
            .collect();
        assert!(small.windows(2).all(|w| w[0] > w[1]), "{n}: {sizes:?}");
    }
    assert_eq!(statement_rows(1000), 512);
    assert_eq!(statement_rows(488), 256);
}

#[test]
fn the_widest_statement_stays_under_sqlites_parameter_limit() {
    let widest = [
        Table::ResourceTypes,
        Table::Resources,
        Table::Entitlements,
        Table::Grants,
    ]
    .into_iter()
    .map(|t| parameter(t.columns(), MAX_ROWS_PER_STATEMENT - 1, t.columns() - 1))
    .max();
    assert_eq!(widest, Some(4610));
    assert!(widest < Some(32_766));
}

fn database() -> Connection {
    let conn = Connection::open_in_memory().unwrap();
    schema::create(&conn).unwrap();
    conn
}

/// A batch of resources: `(type, id, data)` per row.
fn resources(rows: &[(&str, &str, &[u8])]) -> Rows {
    let mut batch = Rows::new(Table::Resources, "2026-11-30 00:00:00".into(), rows.len());
    for (kind, id, data) in rows {
        batch.text(kind);
        batch.text_parts(&[kind, ":", id]);
        batch.opt_text(None);
        batch.opt_text(None);
        batch.blob(|buf| buf.extend_from_slice(data));
    }
    batch
}

fn stored(conn: &Connection) -> Vec<(String, Vec<u8>)> {
    let mut stmt = conn
        .prepare("select external_id, data from v1_resources order by rowid")
        .unwrap();
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap()
}

/// Ids repeated across statements of one batch and from an earlier batch: each id is stored
/// once, at its first position, with its last data, and counted once.
#[test]
fn repeated_ids_across_statements_keep_the_last_data_and_count_once() {
    let conn = database();
    let mut statements = Statements::new(&conn);
    let mut counts = Counts::default();
    insert(
        &mut statements,
        &resources(&[("user", "early", b"first")]),
        "s1",
        &mut counts,
    )
    .unwrap();

    let ids: Vec<String> = (0..700).map(|i| format!("u{i:03}")).collect();
    let mut rows: Vec<(&str, &str, &[u8])> = ids
        .iter()
        .map(|id| ("user", id.as_str(), b"x".as_slice()))
        .collect();
    // Statements of 512, 128, 32, 16, 8 and 4 rows: repeats in the first (row 10), second
    // (600), third (650) and last (699).
    rows[10] = ("group", "g", b"g1");
    rows[600] = ("user", "u005", b"u005 again");
    rows[650] = ("user", "early", b"second");
    rows[699] = ("group", "g", b"g2");
    insert(&mut statements, &resources(&rows), "s1", &mut counts).unwrap();
    drop(statements);

    let all = stored(&conn);
    assert_eq!(all.len(), 1 + 700 - 3);
    assert_eq!(all[0], ("user:early".into(), b"second".to_vec()));
    assert_eq!(all[1 + 5], ("user:u005".into(), b"u005 again".to_vec()));
    assert_eq!(all[1 + 10], ("group:g".into(), b"g2".to_vec()));
    assert_eq!(
        counts.resources,
        BTreeMap::from([("group".to_owned(), 1), ("user".to_owned(), 697)])
    );
}

#[test]
fn a_broken_constraint_in_a_long_batch_is_sqlites_error() {
    let conn = database();
    let mut rows = resources(
        &(0..600)
            .map(|_| ("user", "same", b"d".as_slice()))
            .collect::<Vec<_>>(),
    );
    // `resource_type_id` is `not null`.
    rows.values[300 * Table::Resources.columns()] = Value::Null;
    let err = insert(
        &mut Statements::new(&conn),
        &rows,
        "s1",
        &mut Counts::default(),
    )
    .unwrap_err();
    assert!(err.to_string().contains("NOT NULL"), "{err}");
}

/// The same batches through the database thread and, with the thread refused, on the
/// calling thread: the same rows in the same order, the same counts.
#[test]
fn without_a_thread_batches_are_stored_the_same_way() {
    let batches = || {
        vec![
            resources(&[("user", "a", b"1"), ("user", "b", b"2")]),
            resources(&[
                ("group", "g", b"3"),
                ("user", "a", b"4"),
                ("user", "c", b"5"),
            ]),
            resources(&[("user", "b", b"6")]),
        ]
    };
    let run = |loader: &mut DatabaseThread| {
        for batch in batches() {
            loader.send(batch).unwrap();
            // Spent batches come back for reuse either way.
            let again = loader.rows(Table::Resources, "2026-11-30 00:00:00".into(), 1);
            assert_eq!(again.len(), 0);
        }
    };
    let target = Path::new("t.c1z");
    let mut threaded = DatabaseThread::start(database(), target, "s1");
    assert!(matches!(threaded.mode, Mode::Thread { .. }));
    run(&mut threaded);
    let (conn, counts) = threaded.finish().unwrap();
    let expected = (stored(&conn), counts.resources);

    let (mut inline, refused) =
        threads::refusing(|| DatabaseThread::start(database(), target, "s1"));
    assert_eq!(refused, 1);
    assert!(matches!(inline.mode, Mode::Inline(_)));
    run(&mut inline);
    let (conn, counts) = inline.finish().unwrap();
    assert_eq!((stored(&conn), counts.resources), expected);
    assert_eq!(
        expected.0,
        vec![
            ("user:a".to_owned(), b"4".to_vec()),
            ("user:b".to_owned(), b"6".to_vec()),
            ("group:g".to_owned(), b"3".to_vec()),
            ("user:c".to_owned(), b"5".to_vec()),
        ]
    );
}

#[test]
fn without_a_thread_a_failed_batch_fails_its_own_call_and_stops_the_loader() {
    let conn = database();
    conn.execute_batch(
        "create trigger no_resources before insert on v1_resources \
         begin select raise(abort, 'disk is full'); end;",
    )
    .unwrap();
    let target = Path::new("t.c1z");
    let (mut loader, _) = threads::refusing(|| DatabaseThread::start(conn, target, "s1"));
    let err = loader.send(resources(&[("user", "a", b"1")])).unwrap_err();
    assert!(matches!(err, StoreError::Sqlite { .. }), "{err:?}");
    assert_eq!(
        err.to_string(),
        "t.c1z: could not write rows to the scratch database"
    );
    let again = loader.send(resources(&[("user", "b", b"2")])).unwrap_err();
    assert!(
        matches!(again, StoreError::WriterStopped { .. }),
        "{again:?}"
    );
    assert!(matches!(
        loader.finish(),
        Err(StoreError::WriterStopped { .. })
    ));
}

/// A value range outside its buffer is a bug: debug builds stop at the assertion, release
/// builds fail the batch with a clear error instead of storing an empty value.
#[test]
#[cfg_attr(debug_assertions, should_panic(expected = "outside its 3-byte buffer"))]
fn a_value_outside_its_buffer_is_an_error_not_an_empty_value() {
    let mut batch = resources(&[("user", "a", b"abc")]);
    batch.values[4] = Value::Blob(2..9);
    let err = insert(
        &mut Statements::new(&database()),
        &batch,
        "s1",
        &mut Counts::default(),
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "internal error of the c1z writer: a blob value of a batch (2..9) lies outside its 3-byte buffer"
    );
}

#[test]
#[cfg_attr(debug_assertions, should_panic(expected = "has no text first column"))]
fn a_stored_row_without_its_first_column_is_an_error_not_an_empty_id() {
    let err = Counts::default().add(Table::Resources, None).unwrap_err();
    assert_eq!(
        err.to_string(),
        "internal error of the c1z writer: a row stored in v1_resources has no text in its first column"
    );
}
