//! The PostgreSQL group-commit writer for decisions.
//!
//! A batch is one statement, so one round trip and one implicit transaction: the
//! decisions, their audit entries and the audit head move together or not at all. The
//! writer keeps the audit head it last wrote and moves it only if it is still there
//! (`WHERE seq = .. AND hash = ..`): another replica, or another writer on this one,
//! that appended meanwhile makes the statement change nothing, and the writer chains
//! the batch again under the head's row lock, where it cannot lose. Appenders that
//! lock the head row (`FOR UPDATE`) are waited for, and the condition is checked on the
//! row they leave. In the common case (this writer appends most entries) a batch costs
//! one round trip instead of six.

use crate::audit::entry_hash;
use crate::group::{Job, Writer};
use crate::StoreError;
use postgres::{Client, GenericClient, NoTls, Statement};

/// The audit log's last entry, as this writer believes it to be.
type Head = (i64, String);

struct Conn {
    client: Client,
    batch: Statement,
    /// `None`: read it before the next batch.
    head: Option<Head>,
}

/// The decision writer: one connection and one prepared statement. A failed batch
/// drops the connection; the next batch reconnects.
pub(super) fn writer(config: postgres::Config) -> Writer {
    let mut conn: Option<Conn> = None;
    Writer::start("parapet-postgres-writer", move |batch| {
        let mut retried = false;
        loop {
            if conn.as_ref().is_none_or(|c| c.client.is_closed()) {
                conn = Some(connect_writer(&config)?);
            }
            let c = conn.as_mut().expect("connected above");
            // The connection died under the last attempt: the statement may have
            // committed before the answer was lost. Decision ids are unique and the
            // batch is one statement, so its first id tells.
            if retried && written(c, batch)? {
                return Ok(());
            }
            match write_batch(c, batch) {
                Ok(()) => return Ok(()),
                // A connection that died while idle (the database restarted, a proxy
                // dropped it) is found out only by using it: one fresh connection is
                // tried.
                Err(Failed::Closed(_)) if !retried => {
                    conn = None;
                    retried = true;
                }
                Err(Failed::Closed(e) | Failed::Other(e)) => {
                    conn = None;
                    return Err(e);
                }
            }
        }
    })
}

fn written(c: &mut Conn, batch: &[Job]) -> Result<bool, StoreError> {
    let first = &batch.first().expect("a batch is never empty").id;
    Ok(c.client
        .query_opt("SELECT 1 FROM requests WHERE id = $1", &[first])?
        .is_some())
}

enum Failed {
    Closed(StoreError),
    Other(StoreError),
}

impl From<postgres::Error> for Failed {
    fn from(e: postgres::Error) -> Self {
        if e.is_closed() {
            Failed::Closed(e.into())
        } else {
            Failed::Other(e.into())
        }
    }
}

fn connect_writer(config: &postgres::Config) -> Result<Conn, StoreError> {
    let mut client = config.connect(NoTls)?;
    // Whole batches as arrays; rows go in array order. The inserts happen only if the
    // head moved, and the head moves only from where the batch was chained.
    let batch = client.prepare(
        "WITH head AS (
           UPDATE audit_head SET seq = $1, hash = $2
           WHERE id = 1 AND seq = $3 AND hash = $4
           RETURNING 1
         ), decided AS (
           INSERT INTO requests (id, created_at, requester, kind, content_hash, outcome, approvers_required, delay_seconds, expires_at, report)
           SELECT * FROM UNNEST($5::text[], $6::int8[], $7::text[], $8::text[], $9::text[], $10::text[], $11::int4[], $12::int8[], $13::int8[], $14::text[])
           WHERE EXISTS (SELECT 1 FROM head)
         ), audited AS (
           INSERT INTO audit (seq, at, kind, actor, subject, payload, prev_hash, hash)
           SELECT e.seq, $15, 'decision', e.actor, e.subject, e.payload, e.prev, e.hash
           FROM UNNEST($16::int8[], $7::text[], $5::text[], $17::text[], $18::text[], $19::text[])
             AS e(seq, actor, subject, payload, prev, hash)
           WHERE EXISTS (SELECT 1 FROM head)
         )
         SELECT count(*) FROM head",
    )?;
    Ok(Conn {
        client,
        batch,
        head: None,
    })
}

fn write_batch(c: &mut Conn, batch: &[Job]) -> Result<(), Failed> {
    let cols = Columns::new(batch);
    if let Some((seq, hash)) = c.head.take() {
        if let Some(last) = append(&mut c.client, &c.batch, &cols, batch, seq, &hash)? {
            c.head = Some((seq + batch.len() as i64, last));
            return Ok(());
        }
    }
    // The head is unknown (a new connection) or moved (someone else appended): lock
    // it, so this attempt cannot lose.
    let mut tx = c.client.transaction()?;
    let r = tx.query_one(
        "SELECT seq, hash FROM audit_head WHERE id = 1 FOR UPDATE",
        &[],
    )?;
    let (seq, hash): (i64, String) = (r.get(0), r.get(1));
    let Some(last) = append(&mut tx, &c.batch, &cols, batch, seq, &hash)? else {
        return Err(Failed::Other(StoreError::Db(
            "the audit log head moved while locked".into(),
        )));
    };
    tx.commit()?;
    c.head = Some((seq + batch.len() as i64, last));
    Ok(())
}

/// The batch's decision columns, which do not depend on where it is chained.
struct Columns<'a> {
    ids: Vec<&'a str>,
    created: Vec<i64>,
    requesters: Vec<&'a str>,
    kinds: Vec<&'a str>,
    content_hashes: Vec<&'a str>,
    outcomes: Vec<&'a str>,
    approvers: Vec<i32>,
    delays: Vec<i64>,
    expires: Vec<i64>,
    reports: Vec<&'a str>,
    payloads: Vec<&'a str>,
}

impl<'a> Columns<'a> {
    fn new(batch: &'a [Job]) -> Self {
        Columns {
            ids: batch.iter().map(|j| j.id.as_str()).collect(),
            created: batch.iter().map(|j| j.now).collect(),
            requesters: batch.iter().map(|j| j.new.requester.as_str()).collect(),
            kinds: batch.iter().map(|j| j.new.kind.as_str()).collect(),
            content_hashes: batch.iter().map(|j| j.new.content_hash.as_str()).collect(),
            outcomes: batch.iter().map(|j| j.new.outcome.as_str()).collect(),
            approvers: batch
                .iter()
                .map(|j| j.new.approvers_required as i32)
                .collect(),
            delays: batch.iter().map(|j| j.new.delay_seconds as i64).collect(),
            expires: batch.iter().map(|j| j.now + j.new.ttl_seconds).collect(),
            reports: batch.iter().map(|j| j.new.report.get()).collect(),
            payloads: batch.iter().map(|j| j.audit_payload.as_str()).collect(),
        }
    }
}

/// Run the batch statement chained from `(seq, hash)`: the new head's hash, or `None`
/// when the head was no longer there and nothing was written.
fn append(
    client: &mut impl GenericClient,
    statement: &Statement,
    cols: &Columns,
    batch: &[Job],
    seq: i64,
    hash: &str,
) -> Result<Option<String>, Failed> {
    let at = crate::now();
    let (seqs, prevs, hashes) = chain(batch, at, seq, hash);
    let last = hashes.last().expect("a batch is never empty");
    let moved: i64 = client
        .query_one(
            statement,
            &[
                &(seq + batch.len() as i64),
                last,
                &seq,
                &hash,
                &cols.ids,
                &cols.created,
                &cols.requesters,
                &cols.kinds,
                &cols.content_hashes,
                &cols.outcomes,
                &cols.approvers,
                &cols.delays,
                &cols.expires,
                &cols.reports,
                &at,
                &seqs,
                &cols.payloads,
                &prevs,
                &hashes,
            ],
        )?
        .get(0);
    Ok((moved == 1).then(|| last.clone()))
}

/// The batch's audit entries chained from `(seq, hash)`: their seqs, previous hashes
/// and hashes.
fn chain(batch: &[Job], at: i64, seq: i64, hash: &str) -> (Vec<i64>, Vec<String>, Vec<String>) {
    let mut seqs = Vec::with_capacity(batch.len());
    let mut prevs = Vec::with_capacity(batch.len());
    let mut hashes: Vec<String> = Vec::with_capacity(batch.len());
    for (i, j) in batch.iter().enumerate() {
        let seq = seq + 1 + i as i64;
        let prev = hashes.last().map_or(hash, String::as_str).to_string();
        let h = entry_hash(
            seq,
            at,
            "decision",
            &j.new.requester,
            &j.id,
            &j.audit_payload,
            &prev,
        );
        seqs.push(seq);
        prevs.push(prev);
        hashes.push(h);
    }
    (seqs, prevs, hashes)
}
