//! Checks the Apache Milagro M-Pin and WCC vectors: every derived field of every record is recomputed
//! from the record's inputs only and compared byte for byte.
//!
//! ```text
//! cargo run --release -p mpin-kex --example milagro_vectors -- FILE.json…
//! ```
//!
//! Every format of `tests/vectors/` is understood: `BLS381.json` (Milagro's shipped vectors),
//! `MPINFULL_BLS381.json` (full-protocol vectors), `WCC_BLS381.json` (WCC exchanges) and
//! `WCC_H2_BLS381.json` (the legacy identity maps to G2 and G1). Prints one line per failing record and
//! ends with `N passed, M failed`; exits 1 if any record failed.
#![forbid(unsafe_code)]

use std::collections::BTreeSet;
use std::process::ExitCode;

mod check;

use check::{check_record, Record};

fn main() -> ExitCode {
    let files: Vec<String> = std::env::args().skip(1).collect();
    if files.is_empty() {
        eprintln!("usage: milagro_vectors FILE.json…");
        return ExitCode::from(2);
    }
    let (mut passed, mut failed) = (0usize, 0usize);
    for file in &files {
        let text = match std::fs::read_to_string(file) {
            Ok(t) => t,
            Err(e) => {
                eprintln!("{file}: cannot read: {e}");
                return ExitCode::from(2);
            }
        };
        let records: Vec<serde_json::Map<String, serde_json::Value>> =
            match serde_json::from_str(&text) {
                Ok(r) => r,
                Err(e) => {
                    eprintln!("{file}: not a JSON array of records: {e}");
                    return ExitCode::from(2);
                }
            };
        for (i, rec) in records.iter().enumerate() {
            let rec = Record::from_json(rec);
            match check_record(&rec) {
                Ok(checked) => {
                    let unchecked: BTreeSet<&String> = rec.unchecked_fields(&checked);
                    if unchecked.is_empty() {
                        passed += 1;
                    } else {
                        failed += 1;
                        println!("{file} record {}: fields not checked: {unchecked:?}", i + 1);
                    }
                }
                Err(e) => {
                    failed += 1;
                    println!("{file} record {}: {e}", i + 1);
                }
            }
        }
    }
    println!("{passed} passed, {failed} failed");
    if failed > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}
