//! A presented key, and a JWT signed with the server's secret around any claims.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: (String, Vec<u8>)| {
    let (presented, claims) = input;
    local_momento::fuzzing::voter_token(&presented, &claims);
});
