//! The Redis vote store. NOTE: not written yet; every call fails.

use super::{Result, RunId, RunRecord, RunState, StoreError, Tally, VoteKind, VoteOutcome, Voter};

/// Votes and runs in Redis, under a key prefix.
#[derive(Clone)]
pub struct RedisStore {
    _prefix: String,
}

fn todo<T>() -> Result<T> {
    Err(StoreError::Backend("the Redis store is not written yet".into()))
}

impl RedisStore {
    /// Connects to `url`; keys start with `prefix`.
    pub async fn connect(_url: &str, prefix: &str) -> Result<Self> {
        Ok(RedisStore {
            _prefix: prefix.to_string(),
        })
    }
    pub(super) async fn current(&self, _start: &str) -> Result<RunState> {
        todo()
    }
    pub(super) async fn new_run(&self, _start: &str) -> Result<RunState> {
        todo()
    }
    pub(super) async fn show(&self, _run: RunId, _slide: &str, _path: &[String]) -> Result<RunState> {
        todo()
    }
    pub(super) async fn open(&self, _run: RunId, _decision: &str) -> Result<RunState> {
        todo()
    }
    pub(super) async fn close(&self, _run: RunId, _decision: &str) -> Result<Tally> {
        todo()
    }
    pub(super) async fn vote(
        &self,
        _run: RunId,
        _decision: &str,
        _voter: &Voter,
        _choice: &str,
        _kind: VoteKind,
    ) -> Result<VoteOutcome> {
        todo()
    }
    pub(super) async fn withdraw(
        &self,
        _run: RunId,
        _decision: &str,
        _voter: &Voter,
        _presence_only: bool,
    ) -> Result<Option<String>> {
        todo()
    }
    pub(super) async fn tally(&self, _run: RunId, _decision: &str) -> Result<Tally> {
        todo()
    }
    pub(super) async fn choice_of(&self, _run: RunId, _decision: &str, _voter: &Voter) -> Result<Option<String>> {
        todo()
    }
    pub(super) async fn runs(&self) -> Result<Vec<RunRecord>> {
        todo()
    }
    pub(super) async fn run(&self, _run: RunId) -> Result<Option<RunRecord>> {
        todo()
    }
    pub(super) async fn ping(&self) -> Result<()> {
        todo()
    }
}
