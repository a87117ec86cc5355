//! Redis's answers as the store's types: the scripts' replies (a status
//! word first, then the values), tallies, run states and histories, the
//! audit's drift, and the voter record.
//!
//! A reply of an unexpected shape is a [`StoreError::Backend`] ("unexpected
//! reply from Redis"), never a panic: Redis may hold data written by
//! another cyoa version, or damaged by hand.

use std::collections::BTreeMap;

use redis::{FromRedisValue, Value};

use crate::store::{
    Closed, Delivery, Drift, Now, Published, Result, RunId, RunRecord, RunState, StoreError, Tally, VoteKind,
    VoteOutcome,
};

/// A reply Redis should not have given.
pub(super) fn unexpected(what: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(format!("unexpected reply from Redis: {what}"))
}

pub(super) fn parse<T: FromRedisValue>(v: Value) -> Result<T> {
    redis::from_redis_value(v).map_err(unexpected)
}

pub(super) fn array(v: Value) -> Result<Vec<Value>> {
    match v {
        Value::Array(items) => Ok(items),
        other => Err(unexpected(format!("{other:?}"))),
    }
}

/// The status word a script's reply starts with.
pub(super) fn status(v: Option<Value>) -> Result<String> {
    parse(v.unwrap_or(Value::Nil))
}

pub(super) fn tally(v: Value) -> Result<Tally> {
    Ok(Tally(parse::<BTreeMap<String, u64>>(v)?))
}

/// The reply of vote.lua and sms_vote.lua.
pub(super) fn vote_reply(reply: Value, run: RunId, decision: &str) -> Result<Delivery> {
    let mut items = array(reply)?.into_iter();
    match status(items.next())?.as_str() {
        "counted" => Ok(Delivery::First(VoteOutcome::Counted {
            previous: parse(items.next().unwrap_or(Value::Nil))?,
        })),
        "unchanged" => Ok(Delivery::First(VoteOutcome::Unchanged)),
        "again" => Ok(Delivery::Again(parse(items.next().unwrap_or(Value::Nil))?)),
        "not_open" => Err(StoreError::NotOpen(decision.to_string())),
        "not_current" => Err(StoreError::NotCurrent(run)),
        other => Err(unexpected(other)),
    }
}

/// The reply of close.lua: the closed decision's tally.
pub(super) fn close_reply(reply: Value, run: RunId) -> Result<Tally> {
    let mut items = array(reply)?.into_iter();
    match status(items.next())?.as_str() {
        "ok" => tally(items.next().unwrap_or(Value::Nil)),
        "not_current" => Err(StoreError::NotCurrent(run)),
        other => Err(unexpected(other)),
    }
}

/// A state reply: `{'ok', run, slide, path, open, results, explore}` or a
/// refusal.
pub(super) fn state_reply(reply: Value, run: RunId, decision: &str) -> Result<RunState> {
    let mut items = array(reply)?.into_iter();
    match status(items.next())?.as_str() {
        "ok" => run_state(&mut items),
        "not_current" => Err(StoreError::NotCurrent(run)),
        "no_run" => Err(StoreError::NoRun(run)),
        "other_open" => Err(StoreError::OtherOpen(parse(items.next().unwrap_or(Value::Nil))?)),
        "not_open" => Err(StoreError::NotOpen(decision.to_string())),
        "lost" => Err(StoreError::Lost(lost_reason(
            parse::<Option<String>>(items.next().unwrap_or(Value::Nil))?.as_deref(),
        ))),
        other => Err(unexpected(other)),
    }
}

/// The reply of move_to.lua: `None` when the path moved meanwhile.
pub(super) fn move_reply(reply: Value, run: RunId) -> Result<Option<RunState>> {
    if let Value::Array(items) = &reply {
        if matches!(items.first(), Some(Value::BulkString(s)) if s == b"moved") {
            return Ok(None);
        }
    }
    state_reply(reply, run, "").map(Some)
}

/// What the store's identity key holding `found` (instead of the one
/// claimed at start) says happened.
pub(super) fn lost_reason(found: Option<&str>) -> String {
    match found {
        None => "Redis holds none of this talk's data: it came back empty (restarted without its RDB or AOF \
                 file, flushed, or failed over to an empty replica)"
            .to_string(),
        Some(_) => "Redis holds another talk's data: it came back empty and another instance began a new talk \
                    on it"
            .to_string(),
    }
}

/// Reads `run, slide, path, open, results, explore, started, label, chosen,
/// deadline` from `items` (`results` and `explore` are `'1'` or nil,
/// `started` and `deadline` ms or nil, `chosen` JSON or nil: a run kept by
/// an older cyoa may lack them).
fn run_state(items: &mut impl Iterator<Item = Value>) -> Result<RunState> {
    let mut next = || items.next().unwrap_or(Value::Nil);
    let run: RunId = parse(next())?;
    let slide: String = parse(next())?;
    let path: String = parse(next())?;
    let path: Vec<String> = serde_json::from_str(&path).map_err(|e| unexpected(format!("path {path:?}: {e}")))?;
    let open: Option<String> = parse(next())?;
    let results: Option<String> = parse(next())?;
    let explore: Option<String> = parse(next())?;
    let started: Option<u64> = parse(next())?;
    let label: Option<String> = parse(next())?;
    let chosen: Option<String> = parse(next())?;
    let deadline: Option<u64> = parse(next())?;
    let chosen = match chosen.as_deref() {
        None | Some("") => Vec::new(),
        Some(json) => serde_json::from_str(json).map_err(|e| unexpected(format!("chosen {json:?}: {e}")))?,
    };
    Ok(RunState {
        run,
        slide,
        path,
        open,
        published: Published {
            results: results.as_deref() == Some("1"),
            explore: explore.as_deref() == Some("1"),
        },
        started,
        label: label.filter(|l| !l.is_empty()),
        chosen,
        deadline,
    })
}

/// The reply of history.lua: one entry per run, each `{run, slide, path,
/// open, results, explore, started, label, chosen, deadline, {decision,
/// tally, ...}}`.
pub(super) fn history_reply(reply: Value) -> Result<Vec<RunRecord>> {
    array(reply)?.into_iter().map(run_record).collect()
}

/// The reply of now.lua.
pub(super) fn now_reply(reply: Value) -> Result<Now> {
    let mut items = array(reply)?.into_iter();
    match status(items.next())?.as_str() {
        "ok" => {
            let record = run_record(items.next().unwrap_or(Value::Nil))?;
            let tally = tally(items.next().unwrap_or(Value::Nil))?;
            let mut choices = Vec::new();
            let mut pairs = array(items.next().unwrap_or(Value::Nil))?.into_iter();
            while let Some(decision) = pairs.next() {
                let record: Option<String> = parse(pairs.next().unwrap_or(Value::Nil))?;
                let choice = record.as_deref().and_then(voter_record).map(|(_, c)| c.to_string());
                choices.push((parse(decision)?, choice));
            }
            Ok(Now { record, tally, choices })
        }
        "lost" => Err(StoreError::Lost(lost_reason(
            parse::<Option<String>>(items.next().unwrap_or(Value::Nil))?.as_deref(),
        ))),
        other => Err(unexpected(other)),
    }
}

fn run_record(v: Value) -> Result<RunRecord> {
    let mut items = array(v)?.into_iter();
    let state = run_state(&mut items)?;
    let mut closed = Vec::new();
    let mut entries = array(items.next().unwrap_or(Value::Nil))?.into_iter();
    while let Some(decision) = entries.next() {
        closed.push(Closed {
            decision: parse(decision)?,
            tally: tally(entries.next().unwrap_or(Value::Nil))?,
        });
    }
    Ok(RunRecord { state, closed })
}

/// The reply of audit.lua for `decision` of `run`: one `{counter, choice,
/// counted, recorded}` per counter that differs from the voter records.
pub(super) fn audit_reply(reply: Value, run: RunId, decision: &str) -> Result<Vec<Drift>> {
    let mut drift = Vec::new();
    for entry in array(reply)? {
        let mut items = array(entry)?.into_iter();
        let mut next = || items.next().unwrap_or(Value::Nil);
        let counter: String = parse(next())?;
        let choice: String = parse(next())?;
        let counted: String = parse(next())?;
        let recorded: u64 = parse(next())?;
        drift.push(Drift {
            run,
            decision: decision.to_string(),
            counter,
            choice,
            counted: Some(counted).filter(|c| !c.is_empty()),
            recorded,
        });
    }
    Ok(drift)
}

/// The letter that stands for `kind` in a voter record (and in the `kind`
/// argument of vote.lua).
pub(super) fn kind_letter(kind: VoteKind) -> &'static str {
    match kind {
        VoteKind::Presence => "P",
        VoteKind::Sticky => "S",
    }
}

/// A voter record, `<kind>|<choice>` (`P|` a presence vote, `S|` a sticky
/// one), as the scripts write it (`voter_record` in common.lua): the kind
/// and the choice. `None` for anything else.
pub(super) fn voter_record(record: &str) -> Option<(VoteKind, &str)> {
    let (letter, choice) = record.split_once('|')?;
    let kind = [VoteKind::Presence, VoteKind::Sticky]
        .into_iter()
        .find(|kind| kind_letter(*kind) == letter)?;
    Some((kind, choice))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_voter_record_reads_as_its_kind_and_choice() {
        assert_eq!(voter_record("P|docs"), Some((VoteKind::Presence, "docs")));
        assert_eq!(voter_record("S|docs"), Some((VoteKind::Sticky, "docs")));
        // A choice id is the story's, and may hold the separator itself.
        assert_eq!(voter_record("S|a|b"), Some((VoteKind::Sticky, "a|b")));
        assert_eq!(voter_record("P|"), Some((VoteKind::Presence, "")));
    }

    #[test]
    fn a_voter_record_is_written_and_read_with_the_same_letters() {
        for kind in [VoteKind::Presence, VoteKind::Sticky] {
            let record = format!("{}|build", kind_letter(kind));
            assert_eq!(voter_record(&record), Some((kind, "build")));
        }
    }

    #[test]
    fn anything_else_is_no_voter_record() {
        for bad in ["", "P", "docs", "X|docs", "PS|docs", "p|docs", "|docs"] {
            assert_eq!(voter_record(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn a_reply_of_the_wrong_shape_is_an_error_not_a_panic() {
        assert!(matches!(vote_reply(Value::Nil, 1, "d"), Err(StoreError::Backend(_))));
        assert!(matches!(
            vote_reply(Value::Array(vec![]), 1, "d"),
            Err(StoreError::Backend(_))
        ));
        assert!(matches!(
            state_reply(Value::Int(3), 1, "d"),
            Err(StoreError::Backend(_))
        ));
        let ok_without_state = Value::Array(vec![Value::BulkString(b"ok".to_vec())]);
        assert!(matches!(
            state_reply(ok_without_state, 1, "d"),
            Err(StoreError::Backend(_))
        ));
        assert!(matches!(
            history_reply(Value::Array(vec![Value::Nil])),
            Err(StoreError::Backend(_))
        ));
        assert!(matches!(
            audit_reply(Value::Array(vec![Value::Int(1)]), 1, "d"),
            Err(StoreError::Backend(_))
        ));
    }
}
