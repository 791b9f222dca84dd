//! Arbitrary bytes as a ticket key file and as a sealed ticket: never a panic, and a forged
//! ticket never opens.
#![no_main]

use std::sync::Arc;

use libfuzzer_sys::fuzz_target;
use milagro_tls::{MemoryUsedTickets, TicketKey, TicketKeys, TicketStore};

fuzz_target!(|data: &[u8]| {
    let _ = TicketKeys::from_text(&String::from_utf8_lossy(data), "fuzz");
    let keys = TicketKeys::new(TicketKey::new([1; 4], &[7; 32]), None);
    let store = TicketStore::with_keys(keys, Arc::new(MemoryUsedTickets::new(4)));
    assert!(!store.is_valid(data, 0), "a ticket not sealed by us never opens");
});
