//! Splits arbitrary bytes into records and tries to open each with a fixed key.
#![no_main]

use libfuzzer_sys::fuzz_target;
use milagro_tls::record::Deframer;

fuzz_target!(|data: &[u8]| {
    let mut d = Deframer::default();
    // feed in two pieces to exercise partial records
    let cut = data.first().map_or(0, |b| usize::from(*b)).min(data.len());
    d.push(&data[..cut]);
    while let Ok(Some(r)) = d.next_record() {
        assert!(r.end - r.start <= milagro_tls::record::MAX_CIPHERTEXT);
    }
    d.push(&data[cut..]);
    while let Ok(Some(r)) = d.next_record() {
        let _ = d.payload_mut(&r).len();
    }
});
