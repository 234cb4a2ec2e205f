//! When a supervised process that exited is started again, and when the supervisor gives
//! up. Pure: the caller says how long the run lasted and how it ended.
//!
//! * A run that lasted at least [`RestartPolicy::stable_after`] was healthy: the next
//!   restart waits [`RestartPolicy::initial_backoff`] and the failure count starts over.
//! * Each shorter run is a failure in a row; the wait doubles per failure, up to
//!   [`RestartPolicy::max_backoff`].
//! * After [`RestartPolicy::max_failures`] failures in a row, or at once when a short run
//!   ended with exit status 2 (clap's usage error: the arguments are wrong and a restart
//!   cannot help), the supervisor gives up: it stops the other processes and exits
//!   non-zero, so a misconfigured node fails visibly instead of looping.

use std::time::Duration;

/// Exit status of clap's argument errors.
pub const USAGE_ERROR_STATUS: i32 = 2;

/// How exited processes are restarted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RestartPolicy {
    /// Wait before the first restart (default 1 s).
    pub initial_backoff: Duration,
    /// Longest wait between restarts (default 30 s).
    pub max_backoff: Duration,
    /// A run at least this long was healthy (default 60 s).
    pub stable_after: Duration,
    /// Short runs in a row after which the supervisor gives up (default 5).
    pub max_failures: u32,
}

impl Default for RestartPolicy {
    fn default() -> Self {
        Self {
            initial_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(30),
            stable_after: Duration::from_secs(60),
            max_failures: 5,
        }
    }
}

/// How a process ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    /// It exited with this status.
    Code(i32),
    /// A signal ended it.
    Signal(i32),
}

impl std::fmt::Display for Exit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Code(c) => write!(f, "exit status {c}"),
            Self::Signal(s) => write!(f, "signal {s}"),
        }
    }
}

/// What to do about an exited process.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Start it again after this wait.
    Restart {
        /// The wait.
        after: Duration,
        /// Short runs in a row so far (0 after a healthy run).
        failures: u32,
    },
    /// Stop everything and exit non-zero.
    GiveUp {
        /// Why, for the log.
        reason: String,
    },
}

/// One process's restart history.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RestartState {
    failures: u32,
}

impl RestartState {
    /// Short runs in a row so far.
    pub fn failures(&self) -> u32 {
        self.failures
    }

    /// Records a run of `ran_for` that ended with `exit`, and decides.
    pub fn on_exit(&mut self, policy: &RestartPolicy, ran_for: Duration, exit: Exit) -> Decision {
        if ran_for >= policy.stable_after {
            self.failures = 0;
            return Decision::Restart {
                after: policy.initial_backoff,
                failures: 0,
            };
        }
        self.failures += 1;
        if exit == Exit::Code(USAGE_ERROR_STATUS) {
            return Decision::GiveUp {
                reason: format!(
                    "it rejected its arguments ({exit} after {ran_for:.1?}); a restart cannot help: fix the arguments or the environment"
                ),
            };
        }
        if self.failures >= policy.max_failures {
            return Decision::GiveUp {
                reason: format!(
                    "it failed {} times in a row, each within {:?} of starting (last: {exit} after {ran_for:.1?}); see its log lines above",
                    self.failures, policy.stable_after
                ),
            };
        }
        let doublings = self.failures - 1;
        let after = policy
            .initial_backoff
            .checked_mul(1u32 << doublings.min(16))
            .unwrap_or(policy.max_backoff)
            .min(policy.max_backoff);
        Decision::Restart {
            after,
            failures: self.failures,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: fn(u64) -> Duration = Duration::from_secs;

    fn policy() -> RestartPolicy {
        RestartPolicy {
            initial_backoff: S(1),
            max_backoff: S(5),
            stable_after: S(60),
            max_failures: 6,
        }
    }

    fn restart_after(d: &Decision) -> Option<Duration> {
        match d {
            Decision::Restart { after, .. } => Some(*after),
            Decision::GiveUp { .. } => None,
        }
    }

    #[test]
    fn quick_failures_back_off_doubling_up_to_the_cap_then_give_up() {
        let p = policy();
        let mut st = RestartState::default();
        let waits: Vec<Option<Duration>> = (0..6)
            .map(|_| restart_after(&st.on_exit(&p, S(1), Exit::Code(1))))
            .collect();
        assert_eq!(
            waits,
            [
                Some(S(1)),
                Some(S(2)),
                Some(S(4)),
                Some(S(5)),
                Some(S(5)),
                None
            ]
        );
        let Decision::GiveUp { reason } = st.on_exit(&p, S(1), Exit::Code(1)) else {
            panic!("expected to give up");
        };
        assert!(reason.contains("7 times in a row"), "{reason}");
    }

    #[test]
    fn a_healthy_run_resets_the_count() {
        let p = policy();
        let mut st = RestartState::default();
        for _ in 0..5 {
            st.on_exit(&p, S(2), Exit::Signal(9));
        }
        assert_eq!(st.failures(), 5);
        assert_eq!(
            st.on_exit(&p, S(60), Exit::Signal(9)),
            Decision::Restart {
                after: S(1),
                failures: 0
            }
        );
        assert_eq!(
            restart_after(&st.on_exit(&p, S(2), Exit::Code(1))),
            Some(S(1))
        );
    }

    #[test]
    fn a_usage_error_gives_up_at_once_unless_the_run_was_long() {
        let p = policy();
        let mut st = RestartState::default();
        let Decision::GiveUp { reason } = st.on_exit(&p, S(0), Exit::Code(2)) else {
            panic!("expected to give up");
        };
        assert!(reason.contains("rejected its arguments"), "{reason}");
        let mut st = RestartState::default();
        assert!(restart_after(&st.on_exit(&p, S(600), Exit::Code(2))).is_some());
    }

    #[test]
    fn default_policy_gives_up_on_the_fifth_quick_failure_within_a_quarter_minute() {
        let p = RestartPolicy::default();
        let mut st = RestartState::default();
        let mut waited = Duration::ZERO;
        let mut n = 0;
        while let Decision::Restart { after, .. } = st.on_exit(&p, S(0), Exit::Code(1)) {
            waited += after;
            n += 1;
        }
        assert_eq!(n, 4);
        assert_eq!(waited, S(1 + 2 + 4 + 8));
    }

    #[test]
    fn exits_read_well() {
        assert_eq!(Exit::Code(1).to_string(), "exit status 1");
        assert_eq!(Exit::Signal(9).to_string(), "signal 9");
    }
}
