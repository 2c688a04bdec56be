use governor::clock::{Clock, FakeRelativeClock};
use governor::state::keyed::DefaultKeyedStateStore;
use governor::RateLimiter;
use local_momento::limits::Rate;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::*;

/// The default of `--limit-tokens`, as `LimitArgs` spells it.
fn default_token_rate() -> Rate {
    let command = <crate::config::ServeArgs as clap::Args>::augment_args(clap::Command::new("s"));
    let arg = command
        .get_arguments()
        .find(|a| a.get_id() == "limit_tokens")
        .expect("the flag exists");
    let default = arg.get_default_values()[0].to_str().unwrap();
    default.parse().expect("the default is a rate")
}

type Simulated = RateLimiter<
    IpAddr,
    DefaultKeyedStateStore<IpAddr>,
    FakeRelativeClock,
    governor::middleware::NoOpMiddleware<governor::nanos::Nanos>,
>;

fn simulated(rate: Rate) -> (Simulated, FakeRelativeClock) {
    let clock = FakeRelativeClock::default();
    let limiter = RateLimiter::new(
        rate.quota(),
        DefaultKeyedStateStore::default(),
        clock.clone(),
    );
    (limiter, clock)
}

/// Replays token requests (ms from the start) of one address through `limiter`; each refused
/// request comes back after its `Retry-After` plus up to half as much again (as the voter page
/// does). Returns when each voter got its token (ms), in arrival order.
fn replay(
    limiter: &Simulated,
    clock: &FakeRelativeClock,
    arrivals: &[u64],
    rng: &mut StdRng,
) -> Vec<u64> {
    let address: IpAddr = "198.51.100.7".parse().unwrap();
    // (when, voter) sorted by when: a small discrete-event simulation.
    let mut queue: std::collections::BTreeSet<(u64, usize)> = arrivals
        .iter()
        .enumerate()
        .map(|(i, &at)| (at, i))
        .collect();
    let mut joined = vec![0; arrivals.len()];
    let mut now = 0;
    while let Some((at, voter)) = queue.pop_first() {
        clock.advance(Duration::from_millis(at - now));
        now = at;
        match limiter.check_key(&address) {
            Ok(()) => joined[voter] = at,
            Err(not_until) => {
                let wait = not_until.wait_time_from(clock.now());
                let asked = retry_after_secs(wait) * 1000;
                let again = at + asked + rng.random_range(0..=asked / 2);
                queue.insert((again, voter));
            }
        }
    }
    joined
}

#[test]
fn a_venue_nat_joins_within_a_minute_and_a_script_is_held_back() {
    let rate = default_token_rate();
    let mut rng = StdRng::seed_from_u64(16);

    // 1,000 phones behind one NAT, scanning the QR code within the first 40 seconds (a room
    // told "vote now"), half of them in the first ten.
    let (limiter, clock) = simulated(rate);
    let mut arrivals: Vec<u64> = (0..1000)
        .map(|i| {
            if i % 2 == 0 {
                rng.random_range(0..10_000)
            } else {
                rng.random_range(0..40_000)
            }
        })
        .collect();
    arrivals.sort_unstable();
    let joined = replay(&limiter, &clock, &arrivals, &mut rng);
    let last = joined.iter().max().copied().unwrap();
    assert!(last <= 60_000, "the last voter joined after {last} ms");

    // A script on one address, asking as fast as it can for 5 seconds.
    let (limiter, clock) = simulated(rate);
    let address: IpAddr = "203.0.113.9".parse().unwrap();
    let mut taken = 0;
    for ms in 0..5_000 {
        clock.advance(Duration::from_millis(1));
        if ms % 5 == 0 && limiter.check_key(&address).is_ok() {
            taken += 1;
        }
    }
    assert!(taken < 150, "the script took {taken} tokens in 5 s");
    assert!(taken >= 30, "the burst is there: {taken}");
}

#[test]
fn only_anonymous_token_requests_and_streams_are_limited_here() {
    let request = |method: Method, path: &str, auth: bool| {
        let builder = Request::builder().method(method).uri_str(path);
        let builder = if auth {
            builder.header(AUTHORIZATION, "Bearer k")
        } else {
            builder
        };
        limited(&builder.finish())
    };
    assert_eq!(
        request(Method::POST, "/v1/polls/p1/tokens", false),
        Some(Limited::Token)
    );
    assert_eq!(
        request(Method::POST, "/v1/events/e1/tokens", false),
        Some(Limited::Token)
    );
    assert_eq!(
        request(Method::POST, "/v1/polls/p1/tokens", true),
        None,
        "admins"
    );
    assert_eq!(
        request(Method::POST, "/v1/events/e1/tokens", true),
        Some(Limited::Token),
        "an event's tokens take no key: a header is no way around the limit"
    );
    assert_eq!(
        request(Method::POST, "/v1/polls/p1/tokens/batch", false),
        None
    );
    for stream in [
        "/v1/polls/p1/results/stream",
        "/v1/events/e1/stream",
        "/topics/c/results.p1",
    ] {
        assert_eq!(
            request(Method::GET, stream, false),
            Some(Limited::Stream),
            "{stream}"
        );
    }
    assert_eq!(request(Method::POST, "/topics/c/votes", false), None);
    assert_eq!(request(Method::GET, "/v1/polls/p1/results", false), None);
}

#[test]
fn a_stream_is_counted_until_its_guard_drops() {
    let args = LimitArgs {
        max_streams_per_address: 2,
        ..crate::config::ServeArgs::new("127.0.0.1:0".parse().unwrap()).limits
    };
    let limits = Limits::new(&args, Arc::new(Metrics::new()));
    let client: IpAddr = "192.0.2.1".parse().unwrap();
    let first = limits.open_stream(client).ok().unwrap();
    let second = limits.open_stream(client).ok().unwrap();
    assert!(limits.open_stream(client).is_err());
    assert!(limits.open_stream("192.0.2.2".parse().unwrap()).is_ok());
    drop(first);
    let third = limits.open_stream(client).ok().unwrap();
    drop((second, third));
    assert!(limits.streams.is_empty(), "nothing left behind");
}
