//! A vote message and its publisher's token_id, judged against an open poll of every kind.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: (String, String, i64)| {
    let (text, token_id, cast_ms) = input;
    pollcast::fuzzing::vote_message(&text, &token_id, cast_ms);
});
