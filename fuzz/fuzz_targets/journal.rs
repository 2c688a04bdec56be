//! A journal segment of any records (rightly framed) and any tail, recovered as at a start.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: (Vec<Vec<u8>>, Vec<u8>)| {
    let (records, tail) = input;
    local_momento::fuzzing::journal(&records, &tail);
});
