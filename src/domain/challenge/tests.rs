use chrono::TimeZone;

use super::*;

const KEY: &[u8] = b"key";

fn poll() -> PollId {
    PollId::parse("p1").unwrap()
}

fn at(seconds: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(seconds, 0).single().unwrap()
}

#[test]
fn hashes_and_signatures_are_altchas_sha256_and_hmac_sha256_in_hex() {
    // Expected values from `sha256sum` and `openssl dgst -sha256 -hmac key`.
    assert_eq!(
        hash("salt?poll=p1&expires=2000000000", 123),
        "7dcd09f310f78f4572984114b36799be78f1574b0fb781e80d9c26f11723372a"
    );
    assert_eq!(
        sign(KEY, "c"),
        "3ce40a0edc208379991d07674df03ea00875cb3810336bc550a7f37741591d0a"
    );
}

#[test]
fn a_solved_puzzle_verifies_for_its_poll_until_it_expires() {
    let puzzle = puzzle(KEY, &poll(), 2_000, at(2_000_000_000), 1_234, "ab12");
    assert_eq!(puzzle.salt, "ab12?poll=p1&expires=2000000000");
    assert_eq!(solve(&puzzle), Some(1_234));
    let answer = payload(&puzzle, 1_234);
    let verified = verify(KEY, &poll(), &answer, at(1_999_999_999)).unwrap();
    assert_eq!(verified.challenge, puzzle.challenge);
    assert_eq!(
        verify(KEY, &poll(), &answer, at(2_000_000_000)),
        Err(ChallengeError::Expired)
    );
    let other = PollId::parse("p2").unwrap();
    assert_eq!(
        verify(KEY, &other, &answer, at(0)),
        Err(ChallengeError::WrongPoll)
    );
    assert_eq!(
        verify(b"another key", &poll(), &answer, at(0)),
        Err(ChallengeError::Forged)
    );
}

#[test]
fn wrong_numbers_forged_salts_and_garbage_are_refused() {
    let puzzle = puzzle(KEY, &poll(), 2_000, at(2_000_000_000), 7, "ab12");
    assert_eq!(
        verify(KEY, &poll(), &payload(&puzzle, 8), at(0)),
        Err(ChallengeError::Wrong)
    );
    // A salt edited to a later expiry no longer hashes to the signed challenge.
    let mut stretched = puzzle.clone();
    stretched.salt = "ab12?poll=p1&expires=9999999999".into();
    assert_eq!(
        verify(KEY, &poll(), &payload(&stretched, 7), at(0)),
        Err(ChallengeError::Wrong)
    );
    let mut md5 = puzzle.clone();
    md5.algorithm = "MD5".into();
    assert_eq!(
        verify(KEY, &poll(), &payload(&md5, 7), at(0)),
        Err(ChallengeError::Algorithm)
    );
    for garbage in ["", "not base64!", "e30=", &"A".repeat(5_000)] {
        assert_eq!(
            verify(KEY, &poll(), garbage, at(0)),
            Err(ChallengeError::Malformed),
            "{garbage:.20}"
        );
    }
}
