#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| monocoque_fuzz::curve_session(data));
