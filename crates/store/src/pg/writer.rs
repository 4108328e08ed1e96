//! The PostgreSQL group-commit writer for decisions.

use crate::audit::entry_hash;
use crate::group::{Job, Writer};
use crate::StoreError;
use postgres::{Client, NoTls, Statement};

/// The decision writer: one connection, statements prepared once, a batch per
/// transaction under one audit-head lock. A failed batch drops the connection; the next
/// batch reconnects.
pub(super) fn writer(config: postgres::Config) -> Writer {
    let mut conn: Option<(Client, Statement, Statement)> = None;
    Writer::start("parapet-postgres-writer", move |batch| {
        let mut retried = false;
        loop {
            if conn.as_ref().is_none_or(|(c, ..)| c.is_closed()) {
                conn = Some(connect_writer(&config)?);
            }
            let (c, insert, audit) = conn.as_mut().expect("connected above");
            let begun = c
                .transaction()
                .map(|tx| write_batch(tx, insert, audit, batch));
            match begun {
                Ok(Ok(())) => return Ok(()),
                // A connection that died while idle (the database restarted, a proxy
                // dropped it) is found out only by using it. A failed BEGIN sent
                // nothing of the batch, so one fresh connection is tried first.
                Err(e) if e.is_closed() && !retried => {
                    conn = None;
                    retried = true;
                }
                Err(e) => {
                    conn = None;
                    return Err(e.into());
                }
                Ok(Err(e)) => {
                    conn = None;
                    return Err(e);
                }
            }
        }
    })
}

fn connect_writer(config: &postgres::Config) -> Result<(Client, Statement, Statement), StoreError> {
    let mut c = config.connect(NoTls)?;
    // Whole batches as arrays: six round trips per batch, not two per decision. Rows go
    // in array order (`n` numbers them in it).
    let insert = c.prepare(
        "INSERT INTO requests (id, created_at, requester, kind, content_hash, outcome, approvers_required, delay_seconds, expires_at, report)
         SELECT * FROM UNNEST($1::text[], $2::int8[], $3::text[], $4::text[], $5::text[], $6::text[], $7::int4[], $8::int8[], $9::int8[], $10::text[])",
    )?;
    let audit = c.prepare(
        "INSERT INTO audit (seq, at, kind, actor, subject, payload, prev_hash, hash)
         SELECT * FROM UNNEST($1::int8[], $2::int8[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[])",
    )?;
    Ok((c, insert, audit))
}

fn write_batch(
    mut tx: postgres::Transaction<'_>,
    insert: &Statement,
    audit: &Statement,
    batch: &[Job],
) -> Result<(), StoreError> {
    let col = |f: &dyn Fn(&Job) -> String| -> Vec<String> { batch.iter().map(f).collect() };
    let int = |f: &dyn Fn(&Job) -> i64| -> Vec<i64> { batch.iter().map(f).collect() };
    tx.execute(
        insert,
        &[
            &col(&|j| j.id.clone()),
            &int(&|j| j.now),
            &col(&|j| j.new.requester.clone()),
            &col(&|j| j.new.kind.clone()),
            &col(&|j| j.new.content_hash.clone()),
            &col(&|j| j.new.outcome.clone()),
            &batch
                .iter()
                .map(|j| j.new.approvers_required as i32)
                .collect::<Vec<i32>>(),
            &int(&|j| j.new.delay_seconds as i64),
            &int(&|j| j.now + j.new.ttl_seconds),
            &batch
                .iter()
                .map(|j| j.new.report.get())
                .collect::<Vec<&str>>(),
        ],
    )?;
    let head = tx.query_one(
        "SELECT seq, hash FROM audit_head WHERE id = 1 FOR UPDATE",
        &[],
    )?;
    let (mut seq, mut hash): (i64, String) = (head.get(0), head.get(1));
    let at = crate::now();
    let (mut seqs, mut prevs, mut hashes) = (Vec::new(), Vec::new(), Vec::new());
    for j in batch {
        let next = seq + 1;
        let next_hash = entry_hash(
            next,
            at,
            "decision",
            &j.new.requester,
            &j.id,
            &j.audit_payload,
            &hash,
        );
        seqs.push(next);
        prevs.push(std::mem::replace(&mut hash, next_hash.clone()));
        hashes.push(next_hash);
        seq = next;
    }
    tx.execute(
        audit,
        &[
            &seqs,
            &vec![at; batch.len()],
            &vec!["decision"; batch.len()],
            &col(&|j| j.new.requester.clone()),
            &col(&|j| j.id.clone()),
            &col(&|j| j.audit_payload.clone()),
            &prevs,
            &hashes,
        ],
    )?;
    tx.execute(
        "UPDATE audit_head SET seq = $1, hash = $2 WHERE id = 1",
        &[&seq, &hash],
    )?;
    tx.commit()?;
    Ok(())
}
