//! Fault injection: make the next calls of a named gRPC method fail or wait, or reset a topic,
//! so tests can watch their code meet a misbehaving backend between two steps of a pipeline.
//!
//! ```no_run
//! # async fn demo(m: &local_momento::LocalMomento) {
//! use std::time::Duration;
//! use local_momento::{Fault, FaultCode};
//!
//! // The next 2 `Set` calls fail with UNAVAILABLE; the third is served.
//! m.faults().fail("Set", 2, FaultCode::Unavailable);
//! // The next `DictionarySet` is applied, then answered UNAVAILABLE: the caller sees a
//! // failure for a write that landed (as when an answer is lost on the way back).
//! m.faults().inject("DictionarySet", Fault::fail(FaultCode::Unavailable).after_applying());
//! // The next `Get` is served at once, but its answer arrives half a second later: it reads
//! // what was there when it arrived, whatever changes meanwhile.
//! m.faults().delay_answer("Get", 1, Duration::from_millis(500));
//! // The next `Publish` waits half a second, then fails with INTERNAL.
//! m.faults().inject(
//!     "Publish",
//!     Fault::fail(FaultCode::Internal).after(Duration::from_millis(500)).message("boom"),
//! );
//! // The topic `pollcast`/`votes` is reset at its next publish or subscribe: a new sequence
//! // page, numbering from 1 again.
//! m.faults().reset_topic("pollcast", "votes");
//! # }
//! ```
//!
//! Semantics:
//! - **Targets.** A method name as it appears at the end of the gRPC path (`"Set"`,
//!   `"DictionaryIncrement"`, `"Subscribe"`) targets that method of every service; a full path
//!   (`"/cache_client.Scs/Set"`) targets one service's method. When both kinds match a call,
//!   the full-path faults are consumed first.
//! - **Where.** Faults are applied by a tower layer in front of every gRPC service, before
//!   authentication and before the handler: an injected failure never touches the cache or the
//!   topics, so the caller knows nothing was applied. The exception is
//!   [`Fault::after_applying`]: the call is served in full (its change made and durable), then
//!   its answer is replaced by the failure, so the caller cannot tell it landed; a delay with
//!   [`Fault::after_applying`] serves the call first and holds its answer back instead. A
//!   delayed call is then served normally (or fails, for [`Fault::after`]). Streaming calls
//!   (`Subscribe`) fail when they open. The HTTP topics API is not gRPC and is never affected.
//! - **Counting.** A call consumes its fault when it arrives, under a lock held only for that
//!   bookkeeping, so with 3 faults and 10 concurrent calls exactly 3 calls are affected.
//! - **Several faults on one target** form a queue: the first registered is consumed first,
//!   and the next one applies once it is used up. An [`Fault::always`] fault is never used up,
//!   so faults queued behind it wait until [`Faults::clear`].
//! - **Topic resets** ([`Faults::reset_topic`]) are not tied to a gRPC method: the topic is
//!   reset when it is next used by a publish or a subscribe (gRPC, HTTP or in process), before
//!   that call is served. It gets a new sequence page, greater than its last (as Momento's
//!   protocol promises), numbers from 1 again and holds no history; every subscription open on
//!   it ends, so a client that resumes on the old page gets a discontinuity onto the new one
//!   and live messages. Messages of the old page are gone, as when Momento's service resets a
//!   topic (after inactivity, say).
//! - **Cost.** With no fault registered a call pays one atomic load.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

/// The gRPC status codes a fault can fail with (every code but `OK`), as the SDKs see them:
/// e.g. `Unavailable` becomes the Rust SDK's `MomentoErrorCode::ServerUnavailable`, `Internal`
/// its `InternalServerError`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FaultCode {
    /// `CANCELLED` (1).
    Cancelled,
    /// `UNKNOWN` (2).
    Unknown,
    /// `INVALID_ARGUMENT` (3).
    InvalidArgument,
    /// `DEADLINE_EXCEEDED` (4).
    DeadlineExceeded,
    /// `NOT_FOUND` (5).
    NotFound,
    /// `ALREADY_EXISTS` (6).
    AlreadyExists,
    /// `PERMISSION_DENIED` (7).
    PermissionDenied,
    /// `RESOURCE_EXHAUSTED` (8).
    ResourceExhausted,
    /// `FAILED_PRECONDITION` (9).
    FailedPrecondition,
    /// `ABORTED` (10).
    Aborted,
    /// `OUT_OF_RANGE` (11).
    OutOfRange,
    /// `UNIMPLEMENTED` (12).
    Unimplemented,
    /// `INTERNAL` (13).
    Internal,
    /// `UNAVAILABLE` (14).
    Unavailable,
    /// `DATA_LOSS` (15).
    DataLoss,
    /// `UNAUTHENTICATED` (16).
    Unauthenticated,
}

/// One fault: fail with a status, wait before serving, or both; for the next N calls or always.
///
/// Built with [`Fault::fail`] or [`Fault::delay`] and refined with the other methods; applies
/// to the next call only unless [`Fault::times`] or [`Fault::always`] say otherwise.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fault {
    code: Option<FaultCode>,
    message: Option<String>,
    delay: Duration,
    times: Times,
    /// Serve the call first, then fail it.
    applied: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Times {
    Next(usize),
    Always,
}

impl Fault {
    /// Fails the call with `code`, without serving it.
    pub fn fail(code: FaultCode) -> Self {
        Self {
            code: Some(code),
            message: None,
            delay: Duration::ZERO,
            times: Times::Next(1),
            applied: false,
        }
    }

    /// Waits `delay`, then serves the call normally.
    pub fn delay(delay: Duration) -> Self {
        Self {
            code: None,
            message: None,
            delay,
            times: Times::Next(1),
            applied: false,
        }
    }

    /// Waits `delay` before acting: with [`Fault::fail`], the call fails after the wait.
    pub fn after(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }

    /// With [`Fault::fail`]: serve the call first (its change is made), then answer with the
    /// failure instead of the call's answer: a write that lands but reports failure.
    /// With [`Fault::delay`]: serve the call first, then hold its answer back for the delay: a
    /// read (or write) that is done but whose answer is still on its way.
    pub fn after_applying(mut self) -> Self {
        self.applied = true;
        self
    }

    /// The status message of a failing fault (default: "injected fault on PATH").
    pub fn message(mut self, message: impl Into<String>) -> Self {
        self.message = Some(message.into());
        self
    }

    /// Applies to the next `calls` calls (0 registers nothing).
    pub fn times(mut self, calls: usize) -> Self {
        self.times = Times::Next(calls);
        self
    }

    /// Applies to every call until [`Faults::clear`].
    pub fn always(mut self) -> Self {
        self.times = Times::Always;
        self
    }
}

/// How many calls of a target are still to be affected, from [`Faults::remaining`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Remaining {
    /// This many calls (0: none pending).
    Calls(usize),
    /// Every call, until [`Faults::clear`].
    Always,
}

/// What the gRPC layer does to one call that consumed a fault.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Injected {
    /// Wait this long first.
    pub(crate) delay: Duration,
    /// Then fail with this code and message (`None`: serve the call).
    pub(crate) code: Option<FaultCode>,
    pub(crate) message: Option<String>,
    /// Serve the call before failing it.
    pub(crate) applied: bool,
}

/// The faults registered on a [`crate::LocalMomento`], from [`crate::LocalMomento::faults`].
/// A cheap handle: clones share the same registry. See the [module docs](self) for semantics.
#[derive(Clone, Debug)]
pub struct Faults {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    /// False when no fault is registered: the fast path of every call.
    armed: AtomicBool,
    /// Pending faults per target (a method name or a full path), first registered first.
    /// A `std` mutex: it guards a few map operations and is never held across an await.
    queues: Mutex<HashMap<String, VecDeque<Fault>>>,
    /// False when no topic reset is pending: the fast path of every publish and subscribe.
    resets_armed: AtomicBool,
    /// Topics (cache, topic) to reset at their next use. A `std` mutex, as above.
    resets: Mutex<HashSet<(String, String)>>,
}

impl Faults {
    pub(crate) fn new() -> Self {
        Self {
            inner: Arc::new(Inner {
                armed: AtomicBool::new(false),
                queues: Mutex::new(HashMap::new()),
                resets_armed: AtomicBool::new(false),
                resets: Mutex::new(HashSet::new()),
            }),
        }
    }

    /// Queues `fault` for `rpc`: a method name (`"Set"`) or a full gRPC path
    /// (`"/cache_client.Scs/Set"`).
    ///
    /// # Panics
    /// If `rpc` is empty: such a fault could never fire.
    pub fn inject(&self, rpc: &str, fault: Fault) {
        let target = target(rpc);
        assert!(!target.is_empty(), "a fault needs an RPC name, got {rpc:?}");
        if fault.times == Times::Next(0) {
            return;
        }
        let mut queues = self.lock();
        queues.entry(target).or_default().push_back(fault);
        self.inner.armed.store(true, Ordering::Release);
    }

    /// The next `calls` calls of `rpc` fail with `code`.
    pub fn fail(&self, rpc: &str, calls: usize, code: FaultCode) {
        self.inject(rpc, Fault::fail(code).times(calls));
    }

    /// Every call of `rpc` fails with `code`, until [`Faults::clear`].
    pub fn fail_always(&self, rpc: &str, code: FaultCode) {
        self.inject(rpc, Fault::fail(code).always());
    }

    /// The next `calls` calls of `rpc` are served, then answered with `code`: their changes land
    /// but their callers see a failure.
    pub fn fail_after_applying(&self, rpc: &str, calls: usize, code: FaultCode) {
        self.inject(rpc, Fault::fail(code).after_applying().times(calls));
    }

    /// The next `calls` calls of `rpc` wait `delay`, then are served normally.
    pub fn delay(&self, rpc: &str, calls: usize, delay: Duration) {
        self.inject(rpc, Fault::delay(delay).times(calls));
    }

    /// The next `calls` calls of `rpc` are served at once, and their answers held back for
    /// `delay`: what they read is what was there when they arrived.
    pub fn delay_answer(&self, rpc: &str, calls: usize, delay: Duration) {
        self.inject(rpc, Fault::delay(delay).after_applying().times(calls));
    }

    /// How many calls of `rpc` the faults registered under exactly that name will still affect
    /// (faults registered under the full path are counted under the full path, and vice versa).
    pub fn remaining(&self, rpc: &str) -> Remaining {
        let queues = self.lock();
        let Some(queue) = queues.get(target(rpc).as_str()) else {
            return Remaining::Calls(0);
        };
        let mut calls = 0;
        for fault in queue {
            match fault.times {
                Times::Always => return Remaining::Always,
                Times::Next(n) => calls += n,
            }
        }
        Remaining::Calls(calls)
    }

    /// Resets the topic `cache`/`topic` when it is next published to or subscribed to: a new
    /// sequence page (greater than its last), numbering from 1, no history, and every
    /// subscription open on it ended (see the [module docs](self)). Resetting a topic that is
    /// already to be reset changes nothing.
    pub fn reset_topic(&self, cache: &str, topic: &str) {
        let mut resets = self.lock_resets();
        resets.insert((cache.to_owned(), topic.to_owned()));
        self.inner.resets_armed.store(true, Ordering::Release);
    }

    /// Whether `cache`/`topic` is to be reset now; the reset is consumed.
    pub(crate) fn take_reset(&self, cache: &str, topic: &str) -> bool {
        if !self.inner.resets_armed.load(Ordering::Acquire) {
            return false;
        }
        let mut resets = self.lock_resets();
        let taken = resets.remove(&(cache.to_owned(), topic.to_owned()));
        if resets.is_empty() {
            self.inner.resets_armed.store(false, Ordering::Release);
        }
        taken
    }

    /// Removes every pending fault and topic reset; calls already waiting out a delay finish
    /// as planned.
    pub fn clear(&self) {
        let mut queues = self.lock();
        queues.clear();
        self.inner.armed.store(false, Ordering::Release);
        drop(queues);
        let mut resets = self.lock_resets();
        resets.clear();
        self.inner.resets_armed.store(false, Ordering::Release);
    }

    /// Consumes the fault, if any, for a call to the gRPC `path` (`/package.Service/Method`).
    pub(crate) fn take(&self, path: &str) -> Option<Injected> {
        if !self.inner.armed.load(Ordering::Acquire) {
            return None;
        }
        let method = path.rsplit('/').next().unwrap_or(path);
        let mut queues = self.lock();
        let injected = consume(&mut queues, path).or_else(|| consume(&mut queues, method));
        if queues.is_empty() {
            self.inner.armed.store(false, Ordering::Release);
        }
        injected
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, VecDeque<Fault>>> {
        // The guarded map is valid after any panic (each update is a single map operation).
        self.inner
            .queues
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn lock_resets(&self) -> MutexGuard<'_, HashSet<(String, String)>> {
        // As above: each update is a single set operation.
        self.inner
            .resets
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

/// The registry key of `rpc`: a method name as is, a path with its leading `/`.
fn target(rpc: &str) -> String {
    let rpc = rpc.trim();
    if rpc.contains('/') && !rpc.starts_with('/') {
        format!("/{rpc}")
    } else {
        rpc.to_owned()
    }
}

/// Uses one call's worth of the first fault queued under `key`, dropping spent faults.
fn consume(queues: &mut HashMap<String, VecDeque<Fault>>, key: &str) -> Option<Injected> {
    let queue = queues.get_mut(key)?;
    let fault = queue.front_mut()?;
    let injected = Injected {
        delay: fault.delay,
        code: fault.code,
        message: fault.message.clone(),
        applied: fault.applied,
    };
    if let Times::Next(calls) = &mut fault.times {
        *calls -= 1;
        if *calls == 0 {
            queue.pop_front();
        }
    }
    if queue.is_empty() {
        queues.remove(key);
    }
    Some(injected)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SET: &str = "/cache_client.Scs/Set";
    const GET: &str = "/cache_client.Scs/Get";

    fn code_of(faults: &Faults, path: &str) -> Option<FaultCode> {
        faults.take(path).and_then(|injected| injected.code)
    }

    #[test]
    fn a_counted_fault_affects_exactly_that_many_calls() {
        let faults = Faults::new();
        faults.fail("Set", 2, FaultCode::Unavailable);
        assert_eq!(faults.remaining("Set"), Remaining::Calls(2));
        assert_eq!(code_of(&faults, SET), Some(FaultCode::Unavailable));
        assert_eq!(code_of(&faults, SET), Some(FaultCode::Unavailable));
        assert_eq!(faults.take(SET), None);
        assert_eq!(faults.remaining("Set"), Remaining::Calls(0));
    }

    #[test]
    fn faults_on_one_target_are_consumed_in_registration_order() {
        let faults = Faults::new();
        faults.fail("Set", 1, FaultCode::Internal);
        faults.delay("Set", 1, Duration::from_millis(5));
        let first = faults.take(SET).expect("the fail fault");
        let second = faults.take(SET).expect("the delay fault");
        assert_eq!(first.code, Some(FaultCode::Internal));
        assert_eq!(
            (second.code, second.delay),
            (None, Duration::from_millis(5))
        );
        assert_eq!(faults.take(SET), None);
    }

    #[test]
    fn an_always_fault_lasts_until_cleared() {
        let faults = Faults::new();
        faults.fail_always("Set", FaultCode::Unavailable);
        for _ in 0..100 {
            assert_eq!(code_of(&faults, SET), Some(FaultCode::Unavailable));
        }
        assert_eq!(faults.remaining("Set"), Remaining::Always);
        faults.clear();
        assert_eq!(faults.take(SET), None);
    }

    #[test]
    fn a_full_path_fault_targets_one_service_and_wins_over_a_method_name_fault() {
        let faults = Faults::new();
        faults.fail("Set", 1, FaultCode::Internal);
        faults.fail("cache_client.Scs/Set", 1, FaultCode::Unavailable);
        assert_eq!(faults.take("/other.Service/Get"), None);
        assert_eq!(faults.remaining(SET), Remaining::Calls(1));
        assert_eq!(code_of(&faults, SET), Some(FaultCode::Unavailable));
        assert_eq!(code_of(&faults, SET), Some(FaultCode::Internal));
    }

    #[test]
    fn a_fault_on_one_method_leaves_the_others_alone() {
        let faults = Faults::new();
        faults.fail("Set", 1, FaultCode::Internal);
        assert_eq!(faults.take(GET), None);
        assert_eq!(faults.remaining("Set"), Remaining::Calls(1));
    }

    #[test]
    fn zero_calls_registers_nothing() {
        let faults = Faults::new();
        faults.fail("Set", 0, FaultCode::Internal);
        assert!(!faults.inner.armed.load(Ordering::Acquire));
        assert_eq!(faults.take(SET), None);
    }

    #[test]
    fn a_topic_reset_is_taken_once_and_only_for_its_topic() {
        let faults = Faults::new();
        faults.reset_topic("c", "votes.1");
        assert!(!faults.take_reset("c", "votes.2"));
        assert!(!faults.take_reset("other", "votes.1"));
        assert!(faults.take_reset("c", "votes.1"));
        assert!(!faults.take_reset("c", "votes.1"), "consumed");
        assert!(!faults.inner.resets_armed.load(Ordering::Acquire));
        faults.reset_topic("c", "votes.1");
        faults.clear();
        assert!(!faults.take_reset("c", "votes.1"), "cleared");
    }

    #[test]
    fn concurrent_calls_consume_exactly_the_registered_count() {
        let faults = Faults::new();
        faults.fail("Set", 37, FaultCode::Unavailable);
        let failed: usize = std::thread::scope(|scope| {
            let threads: Vec<_> = (0..8)
                .map(|_| scope.spawn(|| (0..50).filter(|_| faults.take(SET).is_some()).count()))
                .collect();
            threads.into_iter().map(|t| t.join().expect("joins")).sum()
        });
        assert_eq!(failed, 37);
    }
}
