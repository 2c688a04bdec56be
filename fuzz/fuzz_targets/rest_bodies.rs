//! Any request body, read as every REST body type (a poll's validated too).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|body: &[u8]| {
    pollcast::fuzzing::rest_bodies(body);
});
