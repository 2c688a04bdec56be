//! A webhook call: any body with any `momento-signature`, and the same body rightly signed.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: (Option<String>, Vec<u8>)| {
    let (signature, body) = input;
    pollcast::fuzzing::webhook(signature.as_deref(), &body);
});
