//! Holding a call under review: the client's request stays open while people decide,
//! up to `--hold` (below SDK read timeouts), reading the request's state from the
//! store (another replica or the web UI may approve it). Approved in time: consumed
//! once and forwarded. Otherwise the client hears where to approve, and the same call
//! retried later goes through if it was approved meanwhile.

use crate::handle::Shared;
use crate::judge::{blocking, consume, store_refusal};
use crate::reply::Refusal;
use parapet_store::{Request, State};
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

/// How a hold ended.
#[derive(Debug)]
pub enum Held {
    /// Approved and consumed by this call: forward it.
    Approved(Box<Request>),
    /// Rejected, expired, or the approval was used by another call: final.
    Ended(Box<Request>, State),
    /// Still waiting (pending, or cooling off past the hold) when the hold ran out.
    Waiting(Box<Request>, State),
}

pub async fn hold(s: &Arc<Shared>, actor: &str, request: Request) -> Result<Held, Refusal> {
    let _gauge = s.metrics.holding();
    let deadline = Instant::now() + s.config.hold;
    let mut r = request;
    loop {
        let now = parapet_store::now();
        let state = r.state(now);
        match state {
            State::Approved | State::Allowed => {
                if consume(s, &r.id, actor).await? {
                    return Ok(Held::Approved(Box::new(r)));
                }
                // Consumed by a concurrent identical call, or changed since it was read.
                r = reread(s, &r.id).await?;
                if r.state(parapet_store::now()).executable() {
                    continue;
                }
                let st = r.state(parapet_store::now());
                return Ok(Held::Ended(Box::new(r), st));
            }
            State::Pending | State::CoolingOff => {}
            _ => return Ok(Held::Ended(Box::new(r), state)),
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Ok(Held::Waiting(Box::new(r), state));
        }
        let mut wait = s.config.poll;
        if state == State::CoolingOff {
            // Sleep to the end of the delay if it falls inside the hold; else give up now.
            let ready_in = r.executable_at().map_or(0, |at| (at - now).max(0)) as u64;
            if Duration::from_secs(ready_in) > left {
                return Ok(Held::Waiting(Box::new(r), state));
            }
            wait = wait.max(Duration::from_secs(ready_in));
        }
        tokio::time::sleep(wait.min(left)).await;
        r = reread(s, &r.id).await?;
    }
}

async fn reread(s: &Arc<Shared>, id: &str) -> Result<Request, Refusal> {
    let (app, id) = (s.app.clone(), id.to_string());
    let found = blocking({
        let id = id.clone();
        move || app.store.request(&id)
    })
    .await
    .map_err(|e| store_refusal(&e))?;
    found.ok_or_else(|| {
        Refusal::new(
            500,
            "InternalFailure",
            format!("the held request {id} disappeared from the store"),
            "error",
        )
    })
}
