//! One browser, one voter on open polls: the voter token endpoint keeps an anonymous voter's
//! id in a signed, HttpOnly cookie scoped to the poll, so a reload or a second tab gets a token
//! for the same voter (the same ballot), not a fresh one.
//!
//! A speed bump, not identity: a private window, another browser or clearing cookies makes a
//! new voter. Invite polls remain the way to one vote per person.
//!
//! - Name `pollcast_voter`, value the voter's `token_id` (`{poll_id}:{voter_id}`), signed
//!   (HMAC-SHA256, poem's signed cookie jar) so it cannot be forged or moved to another poll.
//! - `Path=/v1/polls/{id}`: sent only with that poll's API calls. `HttpOnly` (no script reads
//!   it), `SameSite=Lax`, `Secure` when pollcast's public URL is `https`.
//! - `Max-Age`: the record TTL (7 days embedded, 24 h against Momento's service), as long as
//!   the voter's ballot key lives; after that the voter could vote again anyway.
//! - The key: `--voter-cookie-secret`, else derived from the admin key (HMAC-SHA3-512 of a
//!   fixed label), so replicas sharing the admin key agree and nothing more has to be kept.

use std::time::Duration;

use hmac::{Hmac, Mac};
use poem::web::cookie::{Cookie, CookieJar, CookieKey, SameSite};
use secrecy::{ExposeSecret, SecretString};
use sha3::Sha3_512;

use crate::domain::{PollId, TokenId, VoterId};

/// The cookie's name.
pub const NAME: &str = "pollcast_voter";
/// The name of the cookie that keeps one voter across an event's polls.
pub const EVENT_NAME: &str = "pollcast_event_voter";

/// What the cookie key is derived with, from the admin key or `--voter-cookie-secret`.
const LABEL: &[u8] = b"pollcast voter cookie v1";

/// The key voter cookies are signed with: from `secret` if given, else from `admin_key`.
pub fn key(secret: Option<&SecretString>, admin_key: &SecretString) -> CookieKey {
    let master = secret.unwrap_or(admin_key).expose_secret();
    let mut mac = Hmac::<Sha3_512>::new_from_slice(master.as_bytes()).expect("any key length");
    mac.update(LABEL);
    let derived = mac.finalize().into_bytes();
    CookieKey::from(&derived[..])
}

/// The voter this browser already is on `poll`, if its cookie is there, genuine and for
/// that poll.
pub fn voter(jar: &CookieJar, key: &CookieKey, poll: &PollId) -> Option<VoterId> {
    scoped_voter(jar, key, NAME, poll.as_str())
}

/// The voter this browser already is in the event `event`, if its event cookie is there,
/// genuine and for that event.
pub fn event_voter(jar: &CookieJar, key: &CookieKey, event: &str) -> Option<VoterId> {
    scoped_voter(jar, key, EVENT_NAME, event)
}

fn scoped_voter(jar: &CookieJar, key: &CookieKey, name: &str, scope: &str) -> Option<VoterId> {
    let cookie = jar.signed_with_key(key).get(name)?;
    let token_id = TokenId::parse(cookie.value_str()).ok()?;
    let (cookie_scope, voter) = token_id.into_parts();
    (cookie_scope.as_str() == scope).then_some(voter)
}

/// Sets (or refreshes) the cookie that makes this browser `voter` in every poll of the event
/// `event` (`Path=/v1/events/{id}`, otherwise as the poll cookie).
pub fn remember_event(
    jar: &CookieJar,
    key: &CookieKey,
    event: &PollId,
    voter: &VoterId,
    max_age: Duration,
    secure: bool,
) {
    let value = TokenId::new(event, voter).to_string();
    let path = format!("/v1/events/{}", event.as_str());
    set(jar, key, (EVENT_NAME, value), path, max_age, secure);
}

/// Sets (or refreshes) the cookie that makes this browser `token_id`'s voter.
pub fn remember(
    jar: &CookieJar,
    key: &CookieKey,
    token_id: &TokenId,
    max_age: Duration,
    secure: bool,
) {
    let path = format!("/v1/polls/{}", token_id.poll_id().as_str());
    set(
        jar,
        key,
        (NAME, token_id.to_string()),
        path,
        max_age,
        secure,
    );
}

fn set(
    jar: &CookieJar,
    key: &CookieKey,
    (name, value): (&str, String),
    path: String,
    max_age: Duration,
    secure: bool,
) {
    let mut cookie = Cookie::new_with_str(name, value);
    cookie.set_path(path);
    cookie.set_http_only(true);
    cookie.set_same_site(SameSite::Lax);
    cookie.set_secure(secure);
    cookie.set_max_age(max_age);
    jar.signed_with_key(key).add(cookie);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signed_cookie_names_its_voter_on_its_poll_only() {
        let key = key(None, &SecretString::from("admin-key-0123456789"));
        let poll = PollId::parse("p7Kx2").unwrap();
        let voter_id = VoterId::parse("v1").unwrap();
        let jar = CookieJar::default();
        remember(
            &jar,
            &key,
            &TokenId::new(&poll, &voter_id),
            Duration::from_secs(60),
            false,
        );
        assert_eq!(voter(&jar, &key, &poll), Some(voter_id));
        assert_eq!(voter(&jar, &key, &PollId::parse("p0ther").unwrap()), None);
        let other_key = super::key(None, &SecretString::from("another-admin-key-000"));
        assert_eq!(voter(&jar, &other_key, &poll), None);
    }
}
