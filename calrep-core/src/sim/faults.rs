//! What the simulator does wrong on purpose: throttling and failures by
//! rule (this operation, this mailbox, after so many requests, so many
//! times) or at random with a fixed seed, so every test run sees the same
//! storm.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::address::EmailAddress;

/// One way to fail a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Fault {
    /// `ErrorServerBusy` with `BackOffMilliseconds`.
    ServerBusy {
        /// The back-off Exchange asks for.
        back_off_ms: u64,
    },
    /// HTTP 503 with `Retry-After` in seconds.
    Unavailable {
        /// The `Retry-After` value.
        retry_after_seconds: u64,
    },
    /// Every message of the response is `ErrorTimeoutExpired` (Exchange's
    /// answer to a batch too big for it).
    TimeoutExpired,
    /// HTTP 500 with a SOAP fault (`ErrorInternalServerError`).
    InternalError,
    /// A 200 whose body stops halfway (complete as HTTP, broken as XML).
    TruncatedBody,
    /// The connection is closed without an answer.
    ConnectionReset,
    /// Half of the body is sent, then nothing until the client gives up.
    StalledBody,
}

/// When a fault applies.
///
/// ```
/// use calrep_core::sim::{Fault, FaultRule};
/// let rule = FaultRule::new(Fault::InternalError).operation("GetItem").skip(2).times(1);
/// assert_eq!(rule.operation.as_deref(), Some("GetItem"));
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct FaultRule {
    /// What happens.
    pub fault: Fault,
    /// Only requests of this operation (`GetItem`, `SyncFolderItems`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operation: Option<String>,
    /// Only requests for this mailbox.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mailbox: Option<EmailAddress>,
    /// Matching requests let through before the fault starts.
    #[serde(default)]
    pub skip: u64,
    /// How many matching requests fail (`None`: all of them).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub times: Option<u64>,
    /// Of the requests that qualify, the fraction that fail, drawn from the
    /// simulator's seeded generator (1.0: every one).
    #[serde(default = "FaultRule::always")]
    pub probability: f64,
    #[serde(skip)]
    seen: u64,
    #[serde(skip)]
    fired: u64,
}

impl FaultRule {
    fn always() -> f64 {
        1.0
    }

    /// A rule that fails every request with `fault`.
    pub fn new(fault: Fault) -> Self {
        Self {
            fault,
            operation: None,
            mailbox: None,
            skip: 0,
            times: None,
            probability: 1.0,
            seen: 0,
            fired: 0,
        }
    }

    /// Only this operation.
    pub fn operation(mut self, operation: &str) -> Self {
        self.operation = Some(operation.to_owned());
        self
    }

    /// Only this mailbox.
    pub fn mailbox(mut self, mailbox: EmailAddress) -> Self {
        self.mailbox = Some(mailbox);
        self
    }

    /// Lets `n` matching requests through first.
    pub fn skip(mut self, n: u64) -> Self {
        self.skip = n;
        self
    }

    /// Fails `n` matching requests, then no more.
    pub fn times(mut self, n: u64) -> Self {
        self.times = Some(n);
        self
    }

    /// Fails each qualifying request with this probability.
    pub fn probability(mut self, p: f64) -> Self {
        self.probability = p.clamp(0.0, 1.0);
        self
    }

    /// How many requests this rule has failed.
    pub fn fired(&self) -> u64 {
        self.fired
    }
}

/// The rules in force and the seeded generator behind their probabilities.
#[derive(Debug, Clone)]
pub(crate) struct FaultPlan {
    rules: Vec<FaultRule>,
    rng: u64,
}

impl FaultPlan {
    pub(crate) fn new(rules: Vec<FaultRule>, seed: u64) -> Self {
        Self { rules, rng: seed }
    }

    pub(crate) fn replace(&mut self, rules: Vec<FaultRule>) {
        self.rules = rules;
    }

    pub(crate) fn rules(&self) -> &[FaultRule] {
        &self.rules
    }

    /// SplitMix64, as the demo generator: the same seed, the same storm.
    fn unit(&mut self) -> f64 {
        self.rng = self.rng.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.rng;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
    }

    /// The fault for this request, if a rule fires (the first that does).
    pub(crate) fn pick(
        &mut self,
        operation: &str,
        mailbox: Option<&EmailAddress>,
    ) -> Option<Fault> {
        for i in 0..self.rules.len() {
            let rule = &self.rules[i];
            let matches = rule.operation.as_deref().is_none_or(|o| o == operation)
                && rule.mailbox.as_ref().is_none_or(|m| Some(m) == mailbox);
            if !matches {
                continue;
            }
            let (seen, fired, skip, times, p) = (
                rule.seen,
                rule.fired,
                rule.skip,
                rule.times,
                rule.probability,
            );
            self.rules[i].seen += 1;
            if seen < skip || times.is_some_and(|t| fired >= t) {
                continue;
            }
            if p < 1.0 && self.unit() >= p {
                continue;
            }
            self.rules[i].fired += 1;
            return Some(self.rules[i].fault);
        }
        None
    }
}

/// How long a stalled body stalls at most (the client gives up first).
pub(crate) const STALL: Duration = Duration::from_secs(3600);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_skip_then_fire_a_number_of_times() {
        let rule = FaultRule::new(Fault::InternalError)
            .operation("GetItem")
            .skip(1)
            .times(2);
        let mut plan = FaultPlan::new(vec![rule], 1);
        let fired: Vec<bool> = (0..5)
            .map(|_| plan.pick("GetItem", None).is_some())
            .collect();
        assert_eq!(fired, [false, true, true, false, false]);
        assert_eq!(plan.pick("SyncFolderItems", None), None);
    }

    #[test]
    fn probabilities_follow_the_seed() {
        let run = |seed| {
            let mut plan = FaultPlan::new(
                vec![FaultRule::new(Fault::ConnectionReset).probability(0.3)],
                seed,
            );
            (0..1000)
                .filter(|_| plan.pick("GetItem", None).is_some())
                .count()
        };
        assert_eq!(run(7), run(7));
        let n = run(7);
        assert!((200..400).contains(&n), "{n} of 1000 at p = 0.3");
    }
}
