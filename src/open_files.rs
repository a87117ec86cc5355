//! Open files: every audience socket is a file descriptor, so the number of
//! phones one instance can hold is capped by its open-file limit. Linux
//! starts most processes with a soft limit of 1,024 (or whatever the shell
//! had) under a far higher hard limit; cyoa raises its soft limit to the
//! hard one at start ([`raise`]) and logs what it got, once.
//!
//! The hard limit is the operator's: the systemd units set
//! `LimitNOFILE=262144`, compose.yaml `ulimits: nofile`, and
//! `scripts/bench.sh` raises it as root (docs/capacity.md). macOS reports
//! an unlimited hard limit but refuses a soft limit above `OPEN_MAX`
//! (10,240): there the soft limit is raised to that at most. A limit that
//! cannot be raised is a warning, never a failed start: the server runs
//! with what it has.

/// The highest soft limit macOS takes (`OPEN_MAX` in `<sys/syslimits.h>`),
/// whatever its hard limit says.
pub const MACOS_OPEN_MAX: u64 = 10_240;

/// The highest soft limit asked for on this system, if any.
const CAP: Option<u64> = if cfg!(target_os = "macos") {
    Some(MACOS_OPEN_MAX)
} else {
    None
};

/// A limit as `getrlimit` gives it: `None` is unlimited.
pub type Limit = Option<u64>;

/// The soft limit to ask for, given the `soft` and `hard` limits now and
/// the system's `cap`: the hard limit (at most `cap`), or `None` when the
/// soft limit is already there or above it (nothing to do).
pub fn wanted(soft: Limit, hard: Limit, cap: Option<u64>) -> Option<Limit> {
    let target = match (hard, cap) {
        (None, None) => None,
        (None, Some(c)) => Some(c),
        (Some(h), None) => Some(h),
        (Some(h), Some(c)) => Some(h.min(c)),
    };
    let below = match (soft, target) {
        (None, _) => false,
        (Some(_), None) => true,
        (Some(s), Some(t)) => s < t,
    };
    below.then_some(target)
}

/// A limit for the log: its number, or `unlimited`.
struct Shown(Limit);

impl std::fmt::Display for Shown {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            Some(n) => write!(f, "{n}"),
            None => f.write_str("unlimited"),
        }
    }
}

/// Raises this process's open-file soft limit to its hard limit (see the
/// module's notes) and logs the limits it runs with: one `info` line, or a
/// `warn` line when the limit could not be raised.
#[cfg(unix)]
pub fn raise() {
    use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
    let before = getrlimit(Resource::Nofile);
    let Some(soft) = wanted(before.current, before.maximum, CAP) else {
        tracing::info!(
            soft = %Shown(before.current),
            hard = %Shown(before.maximum),
            "open files: the soft limit is already at the hard limit"
        );
        return;
    };
    let asked = Rlimit {
        current: soft,
        maximum: before.maximum,
    };
    if let Err(e) = setrlimit(Resource::Nofile, asked) {
        tracing::warn!(
            soft = %Shown(before.current),
            hard = %Shown(before.maximum),
            asked = %Shown(soft),
            error = %e,
            "open files: cannot raise the soft limit; each socket is a file, so this caps the sockets held"
        );
        return;
    }
    let after = getrlimit(Resource::Nofile);
    tracing::info!(
        soft = %Shown(after.current),
        hard = %Shown(after.maximum),
        was = %Shown(before.current),
        "open files: raised the soft limit to the hard limit"
    );
}

/// No open-file limits to raise on this system.
#[cfg(not(unix))]
pub fn raise() {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_soft_limit_goes_up_to_the_hard_one() {
        assert_eq!(wanted(Some(1024), Some(262_144), None), Some(Some(262_144)));
        assert_eq!(wanted(Some(1024), None, None), Some(None));
    }

    #[test]
    fn a_soft_limit_at_or_above_the_target_stays() {
        assert_eq!(wanted(Some(262_144), Some(262_144), None), None);
        assert_eq!(wanted(None, None, None), None);
        assert_eq!(wanted(Some(20_000), Some(10_000_000), Some(MACOS_OPEN_MAX)), None);
    }

    #[test]
    fn an_unlimited_hard_limit_is_capped_where_the_system_refuses_it() {
        assert_eq!(
            wanted(Some(256), None, Some(MACOS_OPEN_MAX)),
            Some(Some(MACOS_OPEN_MAX))
        );
        assert_eq!(wanted(Some(256), Some(4096), Some(MACOS_OPEN_MAX)), Some(Some(4096)));
    }

    #[test]
    fn the_log_says_unlimited_for_no_limit() {
        assert_eq!(Shown(None).to_string(), "unlimited");
        assert_eq!(Shown(Some(7)).to_string(), "7");
    }
}
