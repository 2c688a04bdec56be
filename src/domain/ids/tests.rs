use proptest::prelude::*;
use rand::rngs::StdRng;
use rand::SeedableRng;

use super::*;

#[test]
fn poll_id_accepts_url_safe_characters_up_to_sixteen() {
    for ok in ["p7Kx2", "a", "A-b_9", "0123456789abcdef"] {
        assert_eq!(PollId::parse(ok).unwrap().as_str(), ok);
    }
}

#[test]
fn poll_id_rejects_empty_long_and_unsafe_strings() {
    assert_eq!(
        PollId::parse(""),
        Err(IdError::Empty { kind: IdKind::Poll })
    );
    assert!(matches!(
        PollId::parse("0123456789abcdefg"),
        Err(IdError::TooLong {
            len: 17,
            max: 16,
            ..
        })
    ));
    for bad in ["a:b", "a b", "a/b", "a.b", "é", "a%20"] {
        assert!(
            matches!(PollId::parse(bad), Err(IdError::InvalidChar { .. })),
            "{bad:?}"
        );
    }
}

#[test]
fn generated_poll_ids_are_ten_base62_characters_and_parse() {
    let mut rng = StdRng::seed_from_u64(7);
    for _ in 0..100 {
        let id = PollId::generate_with(&mut rng);
        assert_eq!(id.as_str().len(), POLL_ID_GENERATED_LEN);
        assert!(id.as_str().bytes().all(|b| b.is_ascii_alphanumeric()));
        assert_eq!(PollId::parse(id.as_str()), Ok(id));
    }
    assert_ne!(PollId::generate(), PollId::generate());
}

#[test]
fn voter_id_accepts_email_like_names_and_rejects_the_separator() {
    assert!(VoterId::parse("ada.lovelace+poll@example.org").is_ok());
    assert!(matches!(
        VoterId::parse("a:b"),
        Err(IdError::InvalidChar { found: ':', .. })
    ));
    assert!(VoterId::parse(&"v".repeat(VOTER_ID_MAX_LEN)).is_ok());
    assert!(VoterId::parse(&"v".repeat(VOTER_ID_MAX_LEN + 1)).is_err());
    assert!(VoterId::parse(VoterId::generate().as_str()).is_ok());
}

#[test]
fn option_id_has_exactly_one_spelling() {
    assert_eq!(OptionId::parse("o1").unwrap().number(), 1);
    assert_eq!(OptionId::parse("o32").unwrap().to_string(), "o32");
    for bad in [
        "", "o", "o0", "o01", "O1", "1", "o+1", "o-1", "o1a", "o65536", " o1",
    ] {
        assert_eq!(
            OptionId::parse(bad),
            Err(IdError::BadOptionId(bad.to_owned())),
            "{bad:?}"
        );
    }
    assert!(OptionId::from_number(0).is_err());
}

#[test]
fn option_ids_order_by_number_not_by_text() {
    let o2 = OptionId::parse("o2").unwrap();
    let o10 = OptionId::parse("o10").unwrap();
    assert!(o2 < o10);
}

#[test]
fn token_id_joins_poll_and_voter_with_a_colon() {
    let poll = PollId::parse("p7Kx2").unwrap();
    let voter = VoterId::parse("ada").unwrap();
    let token = TokenId::new(&poll, &voter);
    assert_eq!(token.to_string(), "p7Kx2:ada");
    let parsed = TokenId::parse("p7Kx2:ada").unwrap();
    assert_eq!(parsed, token);
    assert_eq!(parsed.into_parts(), (poll, voter));
}

#[test]
fn longest_token_id_fits_in_sixty_four_characters() {
    let poll = PollId::parse(&"p".repeat(POLL_ID_MAX_LEN)).unwrap();
    let voter = VoterId::parse(&"v".repeat(VOTER_ID_MAX_LEN)).unwrap();
    assert_eq!(
        TokenId::new(&poll, &voter).to_string().len(),
        TOKEN_ID_MAX_LEN
    );
}

#[test]
fn token_id_parse_names_what_is_wrong() {
    assert_eq!(
        TokenId::parse(""),
        Err(IdError::Empty {
            kind: IdKind::Token
        })
    );
    assert_eq!(TokenId::parse("p7Kx2"), Err(IdError::MissingSeparator));
    assert_eq!(
        TokenId::parse(":ada"),
        Err(IdError::Empty { kind: IdKind::Poll })
    );
    assert_eq!(
        TokenId::parse("p7Kx2:"),
        Err(IdError::Empty {
            kind: IdKind::Voter
        })
    );
    assert!(matches!(
        TokenId::parse("p7Kx2:ada:x"),
        Err(IdError::InvalidChar {
            kind: IdKind::Voter,
            found: ':',
            ..
        })
    ));
    assert!(matches!(
        TokenId::parse(&format!("p:{}", "v".repeat(64))),
        Err(IdError::TooLong {
            kind: IdKind::Token,
            ..
        })
    ));
}

#[test]
fn id_errors_read_as_sentences() {
    assert_eq!(
        TokenId::parse("x").unwrap_err().to_string(),
        "token id has no ':' between a poll id and a voter id"
    );
    assert_eq!(
        PollId::parse("a b").unwrap_err().to_string(),
        "poll id contains ' '; allowed: ASCII letters, digits, '-' and '_'"
    );
}

#[test]
fn ids_serialize_as_plain_strings_and_deserialize_through_parse() {
    let token = TokenId::parse("p7Kx2:ada").unwrap();
    assert_eq!(serde_json::to_string(&token).unwrap(), r#""p7Kx2:ada""#);
    assert_eq!(
        serde_json::from_str::<TokenId>(r#""p7Kx2:ada""#).unwrap(),
        token
    );
    assert_eq!(
        serde_json::to_string(&OptionId::from_number(3).unwrap()).unwrap(),
        r#""o3""#
    );
    assert!(serde_json::from_str::<OptionId>(r#""o0""#).is_err());
    assert!(serde_json::from_str::<PollId>(r#""a:b""#).is_err());
    assert!(serde_json::from_str::<VoterId>(r#""""#).is_err());
}

proptest! {
    #[test]
    fn any_valid_token_id_round_trips(
        poll in "[A-Za-z0-9_-]{1,16}",
        voter in "[A-Za-z0-9._@+-]{1,47}",
    ) {
        let text = format!("{poll}:{voter}");
        let token = TokenId::parse(&text).unwrap();
        prop_assert_eq!(token.poll_id().as_str(), poll.as_str());
        prop_assert_eq!(token.voter_id().as_str(), voter.as_str());
        prop_assert_eq!(token.to_string(), text);
    }

    #[test]
    fn parsers_never_panic_and_accept_only_what_they_print(s in "\\PC{0,80}") {
        if let Ok(id) = PollId::parse(&s) { prop_assert_eq!(id.to_string(), s.clone()); }
        if let Ok(id) = VoterId::parse(&s) { prop_assert_eq!(id.to_string(), s.clone()); }
        if let Ok(id) = OptionId::parse(&s) { prop_assert_eq!(id.to_string(), s.clone()); }
        if let Ok(id) = TokenId::parse(&s) {
            prop_assert!(s.len() <= TOKEN_ID_MAX_LEN);
            prop_assert_eq!(id.to_string(), s);
        }
    }

    #[test]
    fn option_ids_round_trip_through_their_number(n in 1u16..) {
        let id = OptionId::from_number(n).unwrap();
        prop_assert_eq!(OptionId::parse(&id.to_string()), Ok(id));
    }
}
