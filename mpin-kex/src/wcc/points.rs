//! The WCC identity points on blst, memoised: `A' = A + A_T(d)` of initiators and
//! `B' = B + B_T(d)` of responders are public, deterministic and costly (legacy
//! hunt-and-peck and cofactor clearing), and every handshake needs the peer's. A bounded
//! process-wide memo (cleared when full, as the M-Pin server's point cache) changes no result.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

use super::error::WccError;
use super::fast::G2;
use super::h2;
use crate::backend::{self, G1};
use crate::error::{DecodeError, PointError};
use crate::identity::HashedId;

/// Entries kept per group.
const ENTRIES: usize = 4096;

type Memo<T> = Mutex<HashMap<(HashedId, u32), T>>;

fn lookup<T: Clone>(
    memo: &'static OnceLock<Memo<T>>,
    id: &HashedId,
    day: u32,
    make: impl FnOnce() -> Result<T, PointError>,
) -> Result<T, WccError> {
    let memo = memo.get_or_init(|| Mutex::new(HashMap::new()));
    if let Some(p) = memo.lock().ok().and_then(|m| m.get(&(*id, day)).cloned()) {
        return Ok(p);
    }
    let p = make().map_err(|source| DecodeError::Point {
        field: "identity point",
        source,
    })?;
    if let Ok(mut m) = memo.lock() {
        if m.len() >= ENTRIES {
            m.clear();
        }
        m.insert((*id, day), p.clone());
    }
    Ok(p)
}

/// `A' = H1(HID) (+ H1(Hn(d, HID)))` on blst.
pub(crate) fn sender_active(id: &HashedId, day: u32) -> Result<G1, WccError> {
    static MEMO: OnceLock<Memo<G1>> = OnceLock::new();
    lookup(&MEMO, id, day, || {
        backend::g1_from_miracl(&h2::sender_active_point(id, day))
    })
}

/// `B' = H2(HID) (+ H2(Hn(d, HID)))` on blst.
pub(crate) fn receiver_active(id: &HashedId, day: u32) -> Result<G2, WccError> {
    static MEMO: OnceLock<Memo<G2>> = OnceLock::new();
    lookup(&MEMO, id, day, || {
        G2::from_miracl(&h2::receiver_active_point(id, day))
    })
}
