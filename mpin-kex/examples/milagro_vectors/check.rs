//! The record checker shared by the `milagro_vectors` example and `tests/vectors.rs`.

use std::collections::{BTreeMap, BTreeSet};

use mpin_kex::raw::{self, Verdict};
use mpin_kex::{ClientSecret, HashedId, MasterShare, Pin, ServerSecret, TimePermit, Token};

#[path = "wcc.rs"]
mod wcc;

/// Inputs of a record: everything else must be recomputed.
const INPUTS: &[&str] = &[
    "TEST",
    "CURVE",
    "MODE",
    "HASH_TYPE",
    "test_no",
    "MPINId",
    "ID",
    "MS1",
    "MS2",
    "PIN1",
    "PIN2",
    "DATE",
    "X",
    "R",
    "W",
    "TIMEVALUE",
    "MESSAGE",
    // WCC records
    "CASE",
    "FAULT",
    "MS2R",
    "IdA",
    "IdB",
    "IdE",
];

/// One vector record: field name → value as text (hex or decimal).
pub struct Record(pub BTreeMap<String, String>);

impl Record {
    /// From a JSON object; numbers become decimal text.
    pub fn from_json(obj: &serde_json::Map<String, serde_json::Value>) -> Self {
        let mut m = BTreeMap::new();
        for (k, v) in obj {
            let s = match v {
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            m.insert(k.clone(), s);
        }
        Record(m)
    }

    /// Fields that are neither inputs nor in `checked`.
    pub fn unchecked_fields<'a>(&'a self, checked: &BTreeSet<String>) -> BTreeSet<&'a String> {
        self.0
            .keys()
            .filter(|k| !INPUTS.contains(&k.as_str()) && !checked.contains(*k))
            .collect()
    }

    fn get(&self, k: &str) -> Option<&str> {
        self.0.get(k).map(String::as_str)
    }

    fn need(&self, k: &str) -> Result<&str, String> {
        self.get(k).ok_or_else(|| format!("missing input {k}"))
    }

    fn hex(&self, k: &str) -> Result<Vec<u8>, String> {
        hex::decode(self.need(k)?).map_err(|e| format!("{k}: bad hex: {e}"))
    }

    fn scalar(&self, k: &str) -> Result<[u8; 48], String> {
        self.hex(k)?
            .try_into()
            .map_err(|_| format!("{k}: not 48 bytes"))
    }

    fn int(&self, k: &str) -> Result<i64, String> {
        self.need(k)?.parse().map_err(|e| format!("{k}: {e}"))
    }
}

struct Checker<'a> {
    rec: &'a Record,
    checked: BTreeSet<String>,
}

impl Checker<'_> {
    /// Compares a computed value with the record's field, if the record has it.
    fn eq(&mut self, k: &str, computed: &[u8]) -> Result<(), String> {
        if let Some(want) = self.rec.get(k) {
            let got = hex::encode(computed);
            if got != want.to_ascii_lowercase() {
                return Err(format!("{k} mismatch: computed {got}, expected {want}"));
            }
            self.checked.insert(k.to_string());
        }
        Ok(())
    }

    fn eq_int(&mut self, k: &str, computed: i64) -> Result<(), String> {
        if self.rec.get(k).is_some() {
            let want = self.rec.int(k)?;
            if want != computed {
                return Err(format!(
                    "{k} mismatch: computed {computed}, expected {want}"
                ));
            }
            self.checked.insert(k.to_string());
        }
        Ok(())
    }
}

fn pin(rec: &Record, k: &str) -> Result<Pin, String> {
    let v = rec.int(k)?;
    Pin::new(u32::try_from(v).map_err(|e| format!("{k}: {e}"))?).map_err(|e| format!("{k}: {e}"))
}

/// Recomputes every derived field of a record from its inputs; returns the checked fields.
pub fn check_record(rec: &Record) -> Result<BTreeSet<String>, String> {
    if rec.get("IdA").is_some() {
        return wcc::check_exchange(rec);
    }
    if rec.get("H2PRE").is_some() {
        return wcc::check_maps(rec);
    }
    let mut c = Checker {
        rec,
        checked: BTreeSet::new(),
    };
    let id = if rec.get("ID").is_some() {
        rec.hex("ID")?
    } else {
        rec.hex("MPINId")?
    };
    let ms = [
        MasterShare::from_bytes(&rec.hex("MS1")?),
        MasterShare::from_bytes(&rec.hex("MS2")?),
    ];
    let ms: Vec<MasterShare> = ms
        .into_iter()
        .collect::<Result<_, _>>()
        .map_err(|e| e.to_string())?;
    let day = match rec.get("DATE") {
        Some(_) => u32::try_from(rec.int("DATE")?).map_err(|e| e.to_string())?,
        None => 0,
    };
    let (pin1, pin2) = (pin(rec, "PIN1")?, pin(rec, "PIN2")?);

    // D-TA shares and their combinations.
    let hcid = HashedId::of(&id);
    c.eq("HCID", hcid.as_bytes())?;
    let ss_shares: Vec<_> = ms.iter().map(MasterShare::server_secret_share).collect();
    c.eq("SS1", &ss_shares[0].to_bytes())?;
    c.eq("SS2", &ss_shares[1].to_bytes())?;
    let ss = ServerSecret::combine(&ss_shares).map_err(|e| e.to_string())?;
    c.eq("SS", &ss.to_bytes())?;
    let cs_shares: Vec<_> = ms.iter().map(|m| m.client_secret_share(&hcid)).collect();
    c.eq("CS1", &cs_shares[0].to_bytes())?;
    c.eq("CS2", &cs_shares[1].to_bytes())?;
    let cs = ClientSecret::combine(&cs_shares).map_err(|e| e.to_string())?;
    c.eq("CS", &cs.to_bytes())?;
    let token = Token::extract(&cs, &id, &pin1).map_err(|e| e.to_string())?;
    c.eq("TOKEN", &token.to_bytes())?;
    let permit = if day != 0 {
        let shares: Vec<_> = ms
            .iter()
            .map(|m| m.time_permit_share(&hcid, day))
            .collect::<Result<_, _>>()
            .map_err(|e| e.to_string())?;
        c.eq("TP1", &shares[0].to_bytes()[4..])?;
        c.eq("TP2", &shares[1].to_bytes()[4..])?;
        let tp = TimePermit::combine(&shares).map_err(|e| e.to_string())?;
        c.eq("TP", &tp.to_bytes()[4..])?;
        c.eq("HTP", &raw::permit_hash_bytes(&hcid, day))?;
        c.eq("AT", &raw::permit_point(&hcid, day))?;
        Some(tp)
    } else {
        None
    };
    c.eq("HID", &raw::identity_point(&hcid))?;
    c.eq("HTID", &raw::active_point(&hcid, day))?;
    let (g1, g2) = raw::precompute(&token, &id);
    c.eq("G1", &g1)?;
    c.eq("G2", &g2)?;

    // Client commitment, challenge, response.
    let x = rec.scalar("X")?;
    let c1 = raw::client_1(&id, &x, &pin2, &token, permit.as_ref());
    c.eq("U", &c1.u)?;
    if let Some(ut) = &c1.ut {
        c.eq("UT", ut)?;
    }
    let u_prime = c1.ut.unwrap_or(c1.u);
    let y = match rec.get("TIMEVALUE") {
        Some(_) => {
            let t = u32::try_from(rec.int("TIMEVALUE")?).map_err(|e| e.to_string())?;
            let msg = if rec.get("MESSAGE").is_some() {
                rec.hex("MESSAGE")?
            } else {
                Vec::new()
            };
            let y = raw::one_pass_y(t, &u_prime, &msg);
            c.eq("Y", &y)?;
            y
        }
        None => {
            // Multi-pass: y is the server's random input; SEC is checked here.
            c.eq("SEC", &c1.sec)?;
            c.checked.insert("Y".into());
            rec.scalar("Y")?
        }
    };
    let v = raw::client_2(&x, &y, &c1.sec)
        .map_err(|e| e.to_string())?
        .ok_or("x + y = 0")?;
    c.eq("V", &v)?;
    // The one-pass API of Milagro returns V in the SEC buffer.
    if rec.get("TIMEVALUE").is_some() {
        c.eq("SEC", &v)?;
    }

    // Server verification, PIN error.
    let verdict =
        raw::server_2(&ss, &id, day, &y, Some(&c1.u), &u_prime, &v).map_err(|e| e.to_string())?;
    let result = match &verdict {
        Verdict::Ok => 0,
        Verdict::BadPin { e, f, pin_error } => {
            c.eq("E", e)?;
            if let Some(f) = f {
                c.eq("F", f)?;
            }
            if rec.get("PIN_ERROR").is_some() {
                let truth = i64::from(pin2_value(rec)?) - i64::from(pin1_value(rec)?);
                if *pin_error != Some(truth as i32) {
                    return Err(format!(
                        "PIN error: found {pin_error:?}, true value {truth}"
                    ));
                }
                // Milagro's kangaroo may fail (0); ours must find the truth, which the
                // record's value equals whenever the kangaroo succeeded.
                let theirs = rec.int("PIN_ERROR")?;
                if theirs != 0 && theirs != truth {
                    return Err(format!("PIN_ERROR {theirs} is neither 0 nor {truth}"));
                }
                c.checked.insert("PIN_ERROR".into());
            }
            -19
        }
    };
    c.eq_int("AuthResult", result)?;
    c.eq_int("AUTH_RESULT", result)?;

    // M-Pin Full.
    if rec.get("R").is_some() {
        let (r, w) = (rec.scalar("R")?, rec.scalar("W")?);
        let z = raw::g1_multiple(&r, &raw::identity_point(&hcid)).map_err(|e| e.to_string())?;
        c.eq("Z", &z)?;
        let t = raw::g1_multiple(&w, &raw::active_point(&hcid, day)).map_err(|e| e.to_string())?;
        c.eq("T", &t)?;
        let hm = raw::hash_all(&hcid, &u_prime, &v, &y, &z, &t);
        c.eq("HM", &hm)?;
        let ck = raw::client_key(&token, &id, &pin2, &r, &x, &hm, &t).map_err(|e| e.to_string())?;
        c.eq("CK", &ck)?;
        let sk = raw::server_key(&ss, &id, &z, &w, &hm, &u_prime)
            .map_err(|e| e.to_string())?
            .ok_or("Z + h·A = O")?;
        c.eq("SK", &sk)?;
        c.eq_int("KEYS_MATCH", i64::from(ck == sk))?;
    }
    Ok(c.checked)
}

fn pin1_value(rec: &Record) -> Result<i32, String> {
    rec.int("PIN1").map(|v| v as i32)
}

fn pin2_value(rec: &Record) -> Result<i32, String> {
    rec.int("PIN2").map(|v| v as i32)
}
