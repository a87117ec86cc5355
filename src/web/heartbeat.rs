//! Keeps sockets honest: the server pings every socket every
//! [`Limits::ping_every`](super::limits::Limits) (30 s: under nginx's 60 s
//! read timeout, so a quiet socket behind a proxy stays open), and closes a
//! socket that sent nothing, not even a pong, for
//! [`Limits::socket_timeout`](super::limits::Limits) (60 s): a phone that
//! went away without a goodbye frees its slot and its presence.
//!
//! [`Heartbeat`] is the clock of one socket's loop
//! ([`super::ws::serve_socket`]): one timer, armed for whichever comes
//! first, the next ping or the end of the silence allowed. A message read
//! only notes the time; the timer is not touched for it, so a busy socket
//! costs the timer wheel nothing per vote.

use std::time::Duration;

use tokio::time::Instant;

/// What to do when the heartbeat's timer fires.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Beat {
    /// Send a ping.
    Ping,
    /// The client has been silent too long: close the socket.
    Silent,
    /// Nothing yet (the client spoke since the timer was armed).
    Wait,
}

/// One socket's ping and silence clock.
#[derive(Debug, Clone)]
pub struct Heartbeat {
    ping_every: Duration,
    timeout: Duration,
    next_ping: Instant,
    last_heard: Instant,
}

impl Heartbeat {
    /// A clock started now.
    pub fn new(ping_every: Duration, timeout: Duration) -> Self {
        let now = Instant::now();
        Heartbeat {
            ping_every,
            timeout,
            next_ping: now + ping_every,
            last_heard: now,
        }
    }

    /// The client sent something (a pong counts).
    pub fn heard(&mut self) {
        self.last_heard = Instant::now();
    }

    /// When the timer must fire next.
    pub fn deadline(&self) -> Instant {
        self.next_ping.min(self.last_heard + self.timeout)
    }

    /// What the timer firing at `now` means; a ping moves the next one on.
    pub fn fire(&mut self, now: Instant) -> Beat {
        if now >= self.last_heard + self.timeout {
            Beat::Silent
        } else if now >= self.next_ping {
            // From now, not from the missed instant: a stalled process sends
            // one ping when it wakes, not a burst.
            self.next_ping = now + self.ping_every;
            Beat::Ping
        } else {
            Beat::Wait
        }
    }

    /// How long the silence allowed is, for the log.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PING: Duration = Duration::from_secs(30);
    const TIMEOUT: Duration = Duration::from_secs(60);

    #[test]
    fn pings_then_times_out_a_silent_client() {
        let mut beat = Heartbeat::new(PING, TIMEOUT);
        let start = beat.last_heard;
        assert_eq!(beat.deadline(), start + PING);
        assert_eq!(beat.fire(start + PING), Beat::Ping);
        assert_eq!(
            beat.deadline(),
            start + TIMEOUT,
            "the silence ends before the next ping"
        );
        assert_eq!(beat.fire(start + TIMEOUT), Beat::Silent);
    }

    #[test]
    fn a_client_that_speaks_is_kept() {
        let mut beat = Heartbeat::new(PING, TIMEOUT);
        let start = beat.last_heard;
        assert_eq!(beat.fire(start + PING), Beat::Ping);
        // The client answers 40 s in.
        beat.last_heard = start + Duration::from_secs(40);
        // The timer armed for the old silence fires at 60 s: a ping is due.
        assert_eq!(beat.deadline(), start + TIMEOUT);
        assert_eq!(beat.fire(start + TIMEOUT), Beat::Ping);
        assert_eq!(beat.deadline(), start + Duration::from_secs(90), "30 s after that ping");
        // Fired early (the clock moved on since it was armed): nothing to do.
        assert_eq!(beat.fire(start + Duration::from_secs(70)), Beat::Wait);
    }
}
