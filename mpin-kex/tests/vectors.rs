//! The Apache Milagro vectors (copied from `../shared/vectors/milagro/`, see
//! `tests/vectors/README.md`): every derived field of every record must be recomputed.

#![allow(clippy::unwrap_used)]

#[path = "../examples/milagro_vectors/check.rs"]
mod check;

use check::{check_record, Record};

fn run(file: &str, expected_records: usize) {
    let path = format!("{}/tests/vectors/{file}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap();
    let records: Vec<serde_json::Map<String, serde_json::Value>> =
        serde_json::from_str(&text).unwrap();
    assert_eq!(records.len(), expected_records);
    let mut failures = Vec::new();
    for (i, rec) in records.iter().enumerate() {
        let rec = Record::from_json(rec);
        match check_record(&rec) {
            Ok(checked) => {
                let unchecked = rec.unchecked_fields(&checked);
                if !unchecked.is_empty() {
                    failures.push(format!("record {}: unchecked {unchecked:?}", i + 1));
                }
            }
            Err(e) => failures.push(format!("record {}: {e}", i + 1)),
        }
    }
    assert!(failures.is_empty(), "{file}: {failures:#?}");
}

#[test]
fn milagro_bls381_all_150_records() {
    run("BLS381.json", 150);
}

#[test]
fn milagro_mpinfull_bls381_all_24_records() {
    run("MPINFULL_BLS381.json", 24);
}

#[test]
fn a_corrupted_record_is_reported() {
    let path = format!(
        "{}/tests/vectors/MPINFULL_BLS381.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap();
    let mut records: Vec<serde_json::Map<String, serde_json::Value>> =
        serde_json::from_str(&text).unwrap();
    let rec = &mut records[0];
    let ck = rec["CK"].as_str().unwrap().to_string();
    let flipped = format!(
        "{}{}",
        if ck.starts_with('0') { "1" } else { "0" },
        &ck[1..]
    );
    rec.insert("CK".into(), serde_json::Value::String(flipped));
    let err = check_record(&Record::from_json(rec)).unwrap_err();
    assert!(err.starts_with("CK mismatch"), "{err}");
}

#[test]
fn milagro_wcc_bls381_all_36_records() {
    run("WCC_BLS381.json", 36);
}

#[test]
fn milagro_wcc_h2_bls381_all_250_records() {
    run("WCC_H2_BLS381.json", 250);
}

#[test]
fn a_corrupted_wcc_record_is_reported() {
    let path = format!(
        "{}/tests/vectors/WCC_BLS381.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap();
    let records: Vec<serde_json::Map<String, serde_json::Value>> =
        serde_json::from_str(&text).unwrap();
    for field in ["PIB", "K2", "TRACE1", "BKeyG2", "VALID"] {
        let mut rec = records[0].clone();
        let v = match &rec[field] {
            serde_json::Value::Bool(b) => serde_json::Value::Bool(!b),
            serde_json::Value::String(s) => serde_json::Value::String(format!(
                "{}{}",
                if s.starts_with('0') { "1" } else { "0" },
                &s[1..]
            )),
            other => panic!("{field}: {other}"),
        };
        rec.insert(field.into(), v);
        let err = check_record(&Record::from_json(&rec)).unwrap_err();
        assert!(err.contains(field), "{field}: {err}");
    }
}
