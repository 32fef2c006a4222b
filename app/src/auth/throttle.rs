//! Sign-in limits (SPEC §8), in memory, per server process.
//!
//! - **Per address**: every attempt from one remote address takes a cell of `governor`'s GCRA
//!   limiter, atomically, whatever the email.
//! - **Per account**: failed attempts for one email within a window. An attempt reserves its
//!   place before the password is checked, under a lock, so a hundred parallel requests cannot
//!   all read the same "two failures so far" and all go on to the check; a success clears the
//!   account's failures (a user who signs in often is never slowed down), a failure stays for
//!   the window. GCRA cannot give a cell back, hence this small counter instead of a second
//!   `governor` limiter.
//!
//! A refusal says when to try again (`Retry-After`), and a burst of refusals for one address or
//! account is written to the audit log once, not once a request.

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use std::collections::hash_map::Entry;
use std::collections::{HashMap, VecDeque};
use std::num::NonZeroU32;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// At most `attempts` sign-ins within `window`: that many at once, then one every
/// `window / attempts`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Allowance {
    pub attempts: u32,
    pub window: Duration,
}

impl Allowance {
    fn quota(self) -> Quota {
        let attempts = NonZeroU32::new(self.attempts).unwrap_or(NonZeroU32::MIN);
        let every = (self.window / attempts.get()).max(Duration::from_millis(1));
        Quota::with_period(every)
            .unwrap_or_else(|| unreachable!("a period of at least 1 ms is valid"))
            .allow_burst(attempts)
    }

    /// Parses `30/1m`: thirty attempts a minute (`s`, `m`, `h` as units).
    pub fn parse(text: &str) -> Result<Self, String> {
        let explain = || format!("`{text}` is not an allowance such as 30/1m or 5/5m");
        let (attempts, window) = text.trim().split_once('/').ok_or_else(explain)?;
        let attempts: u32 = attempts.trim().parse().map_err(|_| explain())?;
        let window = window.trim();
        let at = window
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(window.len());
        let (n, unit) = window.split_at(at);
        let n: u64 = if n.is_empty() {
            1
        } else {
            n.parse().map_err(|_| explain())?
        };
        let secs = match unit {
            "s" | "" => n,
            "m" => n.saturating_mul(60),
            "h" => n.saturating_mul(3600),
            _ => return Err(explain()),
        };
        if attempts == 0 || secs == 0 {
            return Err(format!("{}: both numbers must be above zero", explain()));
        }
        Ok(Self {
            attempts,
            window: Duration::from_secs(secs),
        })
    }
}

/// The two allowances of sign-in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SignInLimits {
    /// Attempts per remote address, whatever email is tried.
    pub per_address: Allowance,
    /// Failed attempts per email tried (as folded for sign-in), from any address.
    pub per_account: Allowance,
}

impl Default for SignInLimits {
    fn default() -> Self {
        Self {
            per_address: Allowance {
                attempts: 30,
                window: Duration::from_secs(60),
            },
            per_account: Allowance {
                attempts: 5,
                window: Duration::from_secs(5 * 60),
            },
        }
    }
}

/// Which allowance refused an attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Limit {
    Address,
    Account,
}

/// An attempt that must wait.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    pub limit: Limit,
    /// Whole seconds until an attempt is allowed again (at least 1).
    pub retry_after: u64,
    /// True for the first refusal of a burst: the one to write to the audit log.
    pub first_of_burst: bool,
}

/// The most accounts and refused keys remembered. Past it the oldest memories are dropped
/// wholesale, so that a flood of made-up emails cannot grow them without bound; the address
/// limit still holds for that flood.
const MAX_TRACKED: usize = 100_000;

/// One account's recent failures and the attempts being checked now.
#[derive(Debug, Default)]
struct Account {
    failures: VecDeque<Instant>,
    checking: u32,
}

#[derive(Debug, Default)]
struct Books {
    accounts: HashMap<String, Account>,
    /// Keys refused since they were last allowed, with the time of the burst's first refusal
    /// (the one in the audit log).
    refusing: HashMap<(Limit, String), Instant>,
}

/// The key an address is counted under: an IPv4 address as it is, an IPv6 address by its
/// /64 network (one subscriber's whole allocation, which an attacker can otherwise walk
/// through an address per attempt).
fn address_key(address: Option<&str>) -> String {
    use std::net::IpAddr;
    let Some(text) = address else {
        return "unknown".to_owned();
    };
    match text.parse::<IpAddr>() {
        Ok(IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = v6.segments();
                format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        },
        Ok(ip) => ip.to_string(),
        Err(_) => text.to_owned(),
    }
}

/// The limits of one server process.
pub struct SignInThrottle {
    limits: SignInLimits,
    by_address: DefaultKeyedRateLimiter<String>,
    books: Mutex<Books>,
}

impl std::fmt::Debug for SignInThrottle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignInThrottle")
            .field("limits", &self.limits)
            .field("addresses", &self.by_address.len())
            .finish()
    }
}

/// An attempt let through to the password check. Say how it ended with [`Ticket::succeeded`];
/// dropped without that, it counts as a failure.
#[must_use]
pub struct Ticket<'a> {
    throttle: &'a SignInThrottle,
    account: String,
    succeeded: bool,
}

impl Ticket<'_> {
    /// The password was right: the account's failures are forgotten.
    pub fn succeeded(mut self) {
        self.succeeded = true;
    }
}

impl Drop for Ticket<'_> {
    fn drop(&mut self) {
        let mut books = self.throttle.lock();
        let Some(account) = books.accounts.get_mut(&self.account) else {
            return;
        };
        account.checking = account.checking.saturating_sub(1);
        if self.succeeded {
            account.failures.clear();
        } else {
            account.failures.push_back(Instant::now());
        }
        if account.failures.is_empty() && account.checking == 0 {
            books.accounts.remove(&self.account);
        }
    }
}

impl SignInThrottle {
    pub fn new(limits: SignInLimits) -> Self {
        Self {
            limits,
            by_address: RateLimiter::keyed(limits.per_address.quota()),
            books: Mutex::default(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Books> {
        self.books.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Takes one attempt from the address's allowance and reserves one of the account's
    /// failures. An attempt refused by its address does not touch the account.
    pub fn admit(&self, address: Option<&str>, account: &str) -> Result<Ticket<'_>, Refusal> {
        let address = address_key(address);
        let by_address = self.by_address.check_key(&address);
        let mut books = self.lock();
        if let Err(not_until) = by_address {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            return Err(books.refuse(Limit::Address, address, wait));
        }
        books.refusing.remove(&(Limit::Address, address));

        let allowance = self.limits.per_account;
        let now = Instant::now();
        if books.accounts.len() >= MAX_TRACKED && !books.accounts.contains_key(account) {
            books.accounts.retain(|_, a| a.checking > 0);
        }
        let state = books.accounts.entry(account.to_owned()).or_default();
        while state
            .failures
            .front()
            .is_some_and(|at| now.duration_since(*at) >= allowance.window)
        {
            state.failures.pop_front();
        }
        let used = state.failures.len() + state.checking as usize;
        if used >= allowance.attempts as usize {
            // The oldest failure leaves the window first; while only attempts being checked
            // fill it, one of them ends within a second or so.
            let wait = state
                .failures
                .front()
                .map_or(Duration::from_secs(1), |oldest| {
                    allowance.window.saturating_sub(now.duration_since(*oldest))
                });
            return Err(books.refuse(Limit::Account, account.to_owned(), wait));
        }
        state.checking += 1;
        books.refusing.remove(&(Limit::Account, account.to_owned()));
        Ok(Ticket {
            throttle: self,
            account: account.to_owned(),
            succeeded: false,
        })
    }

    /// Drops the state of addresses whose allowance is whole again, of accounts whose failures
    /// have all left the window, and the memory of bursts that began more than a window ago
    /// (run now and then; a burst still going on is then audited again, once a window).
    pub fn forget_idle(&self) {
        self.by_address.retain_recent();
        self.by_address.shrink_to_fit();
        let limits = self.limits;
        let mut books = self.lock();
        books.accounts.retain(|_, a| {
            a.checking > 0
                || a.failures
                    .back()
                    .is_some_and(|last| last.elapsed() < limits.per_account.window)
        });
        books.accounts.shrink_to_fit();
        books.refusing.retain(|(limit, _), since| {
            let window = match limit {
                Limit::Address => limits.per_address.window,
                Limit::Account => limits.per_account.window,
            };
            since.elapsed() < window
        });
        books.refusing.shrink_to_fit();
    }
}

impl Books {
    fn refuse(&mut self, limit: Limit, key: String, wait: Duration) -> Refusal {
        if self.refusing.len() >= MAX_TRACKED {
            self.refusing.clear();
        }
        let first_of_burst = match self.refusing.entry((limit, key)) {
            Entry::Occupied(_) => false,
            Entry::Vacant(slot) => {
                slot.insert(Instant::now());
                true
            }
        };
        Refusal {
            limit,
            retry_after: wait.as_secs_f64().ceil().max(1.0) as u64,
            first_of_burst,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(address: u32, account: u32) -> SignInLimits {
        SignInLimits {
            per_address: Allowance {
                attempts: address,
                window: Duration::from_secs(60),
            },
            per_account: Allowance {
                attempts: account,
                window: Duration::from_secs(60),
            },
        }
    }

    fn fail(throttle: &SignInThrottle, address: &str, account: &str) -> Result<(), Refusal> {
        throttle.admit(Some(address), account).map(drop)
    }

    #[test]
    fn an_account_gets_its_failures_then_waits() {
        let throttle = SignInThrottle::new(limits(100, 3));
        for address in ["10.0.0.1", "10.0.0.2", "10.0.0.3"] {
            assert_eq!(fail(&throttle, address, "a@example.com"), Ok(()));
        }
        let refusal = fail(&throttle, "10.0.0.4", "a@example.com").unwrap_err();
        assert_eq!(refusal.limit, Limit::Account);
        assert!(refusal.first_of_burst);
        // The oldest failure leaves the one-minute window first.
        assert!((55..=60).contains(&refusal.retry_after), "{refusal:?}");
        let again = fail(&throttle, "10.0.0.5", "a@example.com").unwrap_err();
        assert!(!again.first_of_burst, "a burst is audited once");
        assert_eq!(again.limit, Limit::Account);
        // Another account is not affected.
        assert_eq!(fail(&throttle, "10.0.0.1", "b@example.com"), Ok(()));
    }

    #[test]
    fn a_success_forgets_the_failures() {
        let throttle = SignInThrottle::new(limits(100, 2));
        assert_eq!(fail(&throttle, "10.0.0.1", "a@example.com"), Ok(()));
        throttle
            .admit(Some("10.0.0.1"), "a@example.com")
            .unwrap()
            .succeeded();
        // Signing in often never runs out: only failures count.
        for _ in 0..10 {
            throttle
                .admit(Some("10.0.0.1"), "a@example.com")
                .unwrap()
                .succeeded();
        }
        assert_eq!(fail(&throttle, "10.0.0.1", "a@example.com"), Ok(()));
        assert_eq!(fail(&throttle, "10.0.0.1", "a@example.com"), Ok(()));
        assert!(fail(&throttle, "10.0.0.1", "a@example.com").is_err());
    }

    #[test]
    fn failures_leave_the_window() {
        let mut short = limits(100, 2);
        short.per_account.window = Duration::from_millis(200);
        let throttle = SignInThrottle::new(short);
        assert_eq!(fail(&throttle, "10.0.0.1", "a@example.com"), Ok(()));
        assert_eq!(fail(&throttle, "10.0.0.1", "a@example.com"), Ok(()));
        assert!(fail(&throttle, "10.0.0.1", "a@example.com").is_err());
        std::thread::sleep(Duration::from_millis(250));
        throttle.forget_idle();
        let refused_again = fail(&throttle, "10.0.0.1", "a@example.com");
        assert_eq!(refused_again, Ok(()), "the window has passed");
    }

    #[test]
    fn an_address_gets_its_allowance_whatever_the_email() {
        let throttle = SignInThrottle::new(limits(2, 100));
        assert_eq!(fail(&throttle, "10.0.0.1", "a@example.com"), Ok(()));
        throttle
            .admit(Some("10.0.0.1"), "b@example.com")
            .unwrap()
            .succeeded();
        let refusal = fail(&throttle, "10.0.0.1", "c@example.com").unwrap_err();
        assert_eq!(refusal.limit, Limit::Address);
        // Thirty seconds until the next of two a minute.
        assert!((25..=30).contains(&refusal.retry_after), "{refusal:?}");
        assert_eq!(fail(&throttle, "10.0.0.2", "c@example.com"), Ok(()));
        // A refusal by address does not use up the account's allowance.
        let fresh = SignInThrottle::new(limits(1, 1));
        assert_eq!(fail(&fresh, "10.0.0.1", "a@example.com"), Ok(()));
        assert!(fail(&fresh, "10.0.0.1", "b@example.com").is_err());
        assert_eq!(fail(&fresh, "10.0.0.2", "b@example.com"), Ok(()));
    }

    #[test]
    fn parallel_attempts_cannot_pass_together() {
        let throttle = SignInThrottle::new(limits(10_000, 5));
        let (tickets_tx, tickets_rx) = std::sync::mpsc::channel();
        std::thread::scope(|scope| {
            for _ in 0..8 {
                let tickets_tx = tickets_tx.clone();
                let throttle = &throttle;
                scope.spawn(move || {
                    for _ in 0..50 {
                        // Attempts still being checked hold their place.
                        if let Ok(ticket) = throttle.admit(Some("10.0.0.1"), "a@example.com") {
                            tickets_tx.send(ticket).unwrap();
                        }
                    }
                });
            }
        });
        drop(tickets_tx);
        let admitted: Vec<_> = tickets_rx.into_iter().collect();
        assert_eq!(admitted.len(), 5);
    }

    #[test]
    fn an_ipv6_network_counts_as_one_address() {
        assert_eq!(
            address_key(Some("2001:db8:1:2:aaaa::1")),
            "2001:db8:1:2::/64"
        );
        assert_eq!(
            address_key(Some("2001:db8:1:2:bbbb::9")),
            "2001:db8:1:2::/64"
        );
        assert_eq!(address_key(Some("2001:db8:1:3::1")), "2001:db8:1:3::/64");
        assert_eq!(address_key(Some("::ffff:10.0.0.7")), "10.0.0.7");
        assert_eq!(address_key(Some("10.0.0.7")), "10.0.0.7");
        assert_eq!(address_key(None), "unknown");
        let throttle = SignInThrottle::new(limits(2, 100));
        assert_eq!(fail(&throttle, "2001:db8::1", "a@example.com"), Ok(()));
        assert_eq!(fail(&throttle, "2001:db8::2", "b@example.com"), Ok(()));
        let refusal = fail(&throttle, "2001:db8::3", "c@example.com").unwrap_err();
        assert_eq!(refusal.limit, Limit::Address);
        assert_eq!(fail(&throttle, "2001:db9::1", "c@example.com"), Ok(()));
    }

    #[test]
    fn allowances_are_read_from_text() {
        assert_eq!(
            Allowance::parse("30/1m"),
            Ok(Allowance {
                attempts: 30,
                window: Duration::from_secs(60)
            })
        );
        assert_eq!(
            Allowance::parse(" 5 / 5m "),
            Ok(Allowance {
                attempts: 5,
                window: Duration::from_secs(300)
            })
        );
        assert_eq!(Allowance::parse("10/h").unwrap().window.as_secs(), 3600);
        assert_eq!(Allowance::parse("10/30").unwrap().window.as_secs(), 30);
        for bad in ["", "30", "0/1m", "5/0s", "x/1m", "5/1w", "-1/1m"] {
            assert!(Allowance::parse(bad).is_err(), "{bad}");
        }
    }
}
