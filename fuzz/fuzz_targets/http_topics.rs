//! Any request to the local Momento's HTTP topics API (method, path, query, headers, body).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(
    |input: (u8, String, String, Vec<(String, String)>, Vec<u8>)| {
        let (selector, path, query, headers, body) = input;
        local_momento::fuzzing::http_topics(selector, &path, &query, &headers, &body);
    }
);
