//! What the run counts: votes, connections, errors by kind, and the
//! vote-to-push latency tracker fed by the presenter socket.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

/// Counters every task updates; read once a second for the progress line.
#[derive(Default)]
pub struct Counters {
    /// Audience sockets open now.
    pub connected: AtomicI64,
    /// The most audience sockets open at once.
    pub peak_connected: AtomicI64,
    /// Web votes acknowledged (`voted`).
    pub web_votes: AtomicU64,
    /// SMS votes answered 200.
    pub sms_votes: AtomicU64,
    /// Times a voter left and came back.
    pub returns: AtomicU64,
    errors: Mutex<BTreeMap<String, u64>>,
}

impl Counters {
    /// One more audience socket open.
    pub fn connect(&self) {
        let now = self.connected.fetch_add(1, Ordering::Relaxed) + 1;
        self.peak_connected.fetch_max(now, Ordering::Relaxed);
    }
    /// One audience socket closed.
    pub fn disconnect(&self) {
        self.connected.fetch_sub(1, Ordering::Relaxed);
    }
    /// Counts an error of this kind.
    pub fn error(&self, kind: impl Into<String>) {
        let mut errors = self.errors.lock().unwrap_or_else(|e| e.into_inner());
        *errors.entry(kind.into()).or_default() += 1;
    }
    /// Errors so far, by kind.
    pub fn errors(&self) -> BTreeMap<String, u64> {
        self.errors.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
    /// Every vote counted so far.
    pub fn votes(&self) -> u64 {
        self.web_votes.load(Ordering::Relaxed) + self.sms_votes.load(Ordering::Relaxed)
    }
}

/// A vote sent and not yet seen in a tally push.
struct Pending {
    /// The choice's count once this vote is in (as the generator expects it).
    reached: i64,
    sent: Instant,
    id: u64,
}

/// The ticket of a sent vote, to take it back if the server refuses it.
pub struct Sent {
    id: u64,
    choice: usize,
    previous: Option<usize>,
}

struct Inner {
    expected: Vec<i64>,
    pending: Vec<VecDeque<Pending>>,
    next_id: u64,
    latency: Histogram<u64>,
    /// Vote sent to its `voted` answer, microseconds.
    answered: Histogram<u64>,
    /// Probes sent and not yet seen: the total once each is in.
    probes: VecDeque<Pending>,
    /// A probe's vote to the first push whose total shows it, microseconds.
    probed: Histogram<u64>,
    pushes: u64,
    /// When the last vote (web or SMS) was answered as counted.
    last_answer: Option<Instant>,
    /// When the last vote was sent.
    last_sent: Option<Instant>,
}

impl Inner {
    /// A vote for `choice` (moving from `previous`) is being sent now.
    fn sent(&mut self, choice: usize, previous: Option<usize>) -> Sent {
        if let Some(p) = previous {
            self.expected[p] -= 1;
        }
        self.expected[choice] += 1;
        let reached = self.expected[choice];
        let id = self.next_id;
        self.next_id += 1;
        let now = Instant::now();
        self.last_sent = Some(now);
        self.pending[choice].push_back(Pending { reached, sent: now, id });
        Sent { id, choice, previous }
    }
}

/// A histogram of microseconds, 1 µs to 10 min, 3 significant digits.
fn micros() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 600_000_000, 3).expect("constant bounds are valid")
}

/// Records the time from `then` to `now` in `histogram`.
fn record(histogram: &mut Histogram<u64>, now: Instant, then: Instant) {
    let micros = u64::try_from(now.duration_since(then).as_micros()).unwrap_or(u64::MAX);
    histogram.saturating_record(micros.max(1));
}

/// Vote-to-push latency: per choice, the send time of each vote and the
/// count it makes. A push showing count >= k for a choice delivers that
/// choice's votes up to the last one that reached k, and every vote of the
/// choice sent before it. A vote that moves away from a choice lowers the
/// count later votes reach, so with moves this is an estimate (a push may
/// show a count before the move away that it assumed): good to a push
/// interval, which is what the figure is for.
pub struct Tracker {
    inner: Mutex<Inner>,
}

impl Tracker {
    /// A tracker for a decision with this many choices.
    pub fn new(choices: usize) -> Self {
        Tracker {
            inner: Mutex::new(Inner {
                expected: vec![0; choices],
                pending: (0..choices).map(|_| VecDeque::new()).collect(),
                next_id: 0,
                latency: micros(),
                answered: micros(),
                probes: VecDeque::new(),
                probed: micros(),
                pushes: 0,
                last_answer: None,
                last_sent: None,
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A vote for `choice` (moving from `previous`) is being sent now.
    pub fn sent(&self, choice: usize, previous: Option<usize>) -> Sent {
        self.lock().sent(choice, previous)
    }

    /// A probe's first vote for `choice` is being sent now (see
    /// `audience::probe`): once every other voter has a vote in, the
    /// total reaches this probe's count only with it.
    pub fn probe_sent(&self, choice: usize) -> Sent {
        let mut inner = self.lock();
        let sent = inner.sent(choice, None);
        let reached = inner.expected.iter().sum();
        inner.probes.push_back(Pending {
            reached,
            sent: Instant::now(),
            id: sent.id,
        });
        sent
    }

    /// The server answered `voted` to a vote sent at `sent_at`.
    pub fn answered(&self, sent_at: Instant) {
        let now = Instant::now();
        let mut inner = self.lock();
        record(&mut inner.answered, now, sent_at);
        inner.last_answer = inner.last_answer.max(Some(now));
    }

    /// A text was answered as counted (its time is not a socket vote's).
    pub fn texted(&self) {
        let mut inner = self.lock();
        inner.last_answer = inner.last_answer.max(Some(Instant::now()));
    }

    /// When the last vote was sent, and when the last was answered as
    /// counted.
    pub fn last_vote(&self) -> (Option<Instant>, Option<Instant>) {
        let inner = self.lock();
        (inner.last_sent, inner.last_answer)
    }

    /// The server refused the vote: it never counts.
    pub fn refused(&self, sent: Sent) {
        let mut inner = self.lock();
        inner.expected[sent.choice] -= 1;
        if let Some(p) = sent.previous {
            inner.expected[p] += 1;
        }
        inner.pending[sent.choice].retain(|p| p.id != sent.id);
        inner.probes.retain(|p| p.id != sent.id);
    }

    /// A tally push arrived with these counts (in choice order).
    pub fn push(&self, counts: &[u64]) {
        let now = Instant::now();
        let mut inner = self.lock();
        inner.pushes += 1;
        let Inner {
            expected,
            pending,
            latency,
            probes,
            probed,
            ..
        } = &mut *inner;
        let total = counts
            .iter()
            .map(|&n| i64::try_from(n).unwrap_or(i64::MAX))
            .sum::<i64>();
        if let Some(last) = probes.iter().rposition(|p| p.reached <= total) {
            for p in probes.drain(..=last) {
                record(probed, now, p.sent);
            }
        }
        for (queue, &count) in pending.iter_mut().zip(counts) {
            let count = i64::try_from(count).unwrap_or(i64::MAX);
            let Some(last) = queue.iter().rposition(|p| p.reached <= count) else {
                continue;
            };
            for p in queue.drain(..=last) {
                record(latency, now, p.sent);
            }
        }
        // A push showing exactly the counts expected from every vote sent
        // has every vote in it, whatever order the moves took.
        if counts
            .iter()
            .zip(expected.iter())
            .all(|(&n, &e)| i64::try_from(n) == Ok(e))
        {
            for p in pending.iter_mut().flat_map(|q| q.drain(..)) {
                record(latency, now, p.sent);
            }
        }
    }

    /// Pushes of the decision's counts seen so far.
    pub fn pushes(&self) -> u64 {
        self.lock().pushes
    }

    /// Votes sent and not yet seen in a push.
    pub fn undelivered(&self) -> usize {
        self.lock().pending.iter().map(VecDeque::len).sum()
    }

    /// Probe vote to the push showing it, so far (microseconds).
    pub fn probed(&self) -> Histogram<u64> {
        self.lock().probed.clone()
    }

    /// Probes sent and not yet seen in a push.
    pub fn probes_unseen(&self) -> usize {
        self.lock().probes.len()
    }

    /// Vote sent to its answer so far (microseconds).
    pub fn answers(&self) -> Histogram<u64> {
        self.lock().answered.clone()
    }

    /// The latency histogram so far (microseconds).
    pub fn latency(&self) -> Histogram<u64> {
        self.lock().latency.clone()
    }
}

/// What each instance's presenter screen shows: the counts of its last
/// push, and when it first showed them.
pub struct Screens {
    shown: Vec<Mutex<Option<Shown>>>,
}

/// The counts a screen shows, and since when.
type Shown = (Vec<u64>, Instant);

impl Screens {
    /// Screens of `n` instances, nothing shown yet.
    pub fn new(n: usize) -> Self {
        Screens {
            shown: (0..n).map(|_| Mutex::new(None)).collect(),
        }
    }

    /// Instance `screen`'s presenter got a push of these counts.
    pub fn show(&self, screen: usize, counts: &[u64]) {
        let Some(shown) = self.shown.get(screen) else {
            return;
        };
        let mut shown = shown.lock().unwrap_or_else(|e| e.into_inner());
        if shown.as_ref().is_none_or(|(c, _)| c != counts) {
            *shown = Some((counts.to_vec(), Instant::now()));
        }
    }

    /// The counts instance `screen`'s last push showed.
    pub fn shown(&self, screen: usize) -> Option<Vec<u64>> {
        let shown = self.shown.get(screen)?.lock().unwrap_or_else(|e| e.into_inner());
        shown.as_ref().map(|(counts, _)| counts.clone())
    }

    /// Per instance: when its screen began to show `counts`, if it does.
    pub fn showing_since(&self, counts: &[u64]) -> Vec<Option<Instant>> {
        self.shown
            .iter()
            .map(|s| match &*s.lock().unwrap_or_else(|e| e.into_inner()) {
                Some((c, at)) if c == counts => Some(*at),
                _ => None,
            })
            .collect()
    }
}

/// A histogram's quantiles as `p50 … max` in milliseconds.
pub fn quantiles(h: &Histogram<u64>) -> String {
    if h.is_empty() {
        return "no samples".into();
    }
    let ms = |v: u64| Duration::from_micros(v).as_secs_f64() * 1000.0;
    format!(
        "p50 {:.1} ms, p95 {:.1} ms, p99 {:.1} ms, max {:.1} ms ({} samples)",
        ms(h.value_at_quantile(0.50)),
        ms(h.value_at_quantile(0.95)),
        ms(h.value_at_quantile(0.99)),
        ms(h.max()),
        h.len()
    )
}
