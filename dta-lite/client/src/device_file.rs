//! The device credential file (JSON, mode 0600, written atomically; see `FORMATS.md`):
//! identity, D-TAs, device grant, the device keys **whole** (a PIN split would only invite an
//! offline PIN search against a recorded handshake, P2P-SPEC §10.3) and cached device permits.

use std::fmt;
use std::path::Path;

use mpin_kex::wcc::{ReceiverKey, ReceiverPermit, SenderKey, SenderPermit};
use serde::{Deserialize, Serialize};
use zeroize::{Zeroize, Zeroizing};

use crate::endpoint::DtaEndpoint;
use crate::files::FileError;
use crate::json_file::{self, field_err, PermitJson};
use crate::ra::{DeviceKeys, Grant, GrantKind};

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct DeviceJson {
    version: u32,
    identity: String,
    dtas: Vec<DtaEndpoint>,
    grant: Grant,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    sender_key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    receiver_key: Option<String>,
    #[serde(default)]
    sender_permits: Vec<PermitJson>,
    #[serde(default)]
    receiver_permits: Vec<PermitJson>,
}

impl Drop for DeviceJson {
    fn drop(&mut self) {
        self.sender_key.zeroize();
        self.receiver_key.zeroize();
    }
}

/// A device's credential: its identity, D-TAs, device grant (authorises permits while not
/// revoked), its sender key (G1, to dial) and/or receiver key (G2, to accept), held whole,
/// and cached daily permits for those keys. Keys zeroize on drop; `Debug` redacts them.
#[derive(Clone)]
pub struct DeviceCredentialFile {
    /// The device identity.
    pub identity: String,
    /// The D-TAs that issued the keys (all are needed for permits).
    pub dtas: Vec<DtaEndpoint>,
    /// The RA's device grant.
    pub grant: Grant,
    sender_key: Option<SenderKey>,
    receiver_key: Option<ReceiverKey>,
    sender_permits: Vec<SenderPermit>,
    receiver_permits: Vec<ReceiverPermit>,
}

impl fmt::Debug for DeviceCredentialFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DeviceCredentialFile")
            .field("identity", &self.identity)
            .field("keys", &self.keys())
            .field("dtas", &self.dtas.len())
            .field(
                "sender_permit_days",
                &self
                    .sender_permits
                    .iter()
                    .map(SenderPermit::day)
                    .collect::<Vec<_>>(),
            )
            .field(
                "receiver_permit_days",
                &self
                    .receiver_permits
                    .iter()
                    .map(ReceiverPermit::day)
                    .collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

impl DeviceCredentialFile {
    /// A device credential without permits.
    pub fn new(
        identity: String,
        dtas: Vec<DtaEndpoint>,
        grant: Grant,
        sender_key: Option<SenderKey>,
        receiver_key: Option<ReceiverKey>,
    ) -> Self {
        Self {
            identity,
            dtas,
            grant,
            sender_key,
            receiver_key,
            sender_permits: Vec::new(),
            receiver_permits: Vec::new(),
        }
    }

    /// Which keys it holds (`None` only for a credential holding none, which
    /// [`Self::from_json`] refuses).
    pub fn keys(&self) -> Option<DeviceKeys> {
        DeviceKeys::new(self.sender_key.is_some(), self.receiver_key.is_some())
    }

    /// The sender key (G1), if the device may dial.
    pub fn sender_key(&self) -> Option<&SenderKey> {
        self.sender_key.as_ref()
    }

    /// The receiver key (G2), if the device may accept.
    pub fn receiver_key(&self) -> Option<&ReceiverKey> {
        self.receiver_key.as_ref()
    }

    /// Cached sender permits, by day.
    pub fn sender_permits(&self) -> &[SenderPermit] {
        &self.sender_permits
    }

    /// Cached receiver permits, by day.
    pub fn receiver_permits(&self) -> &[ReceiverPermit] {
        &self.receiver_permits
    }

    /// The cached sender permit for `day`.
    pub fn sender_permit_for(&self, day: u32) -> Option<&SenderPermit> {
        self.sender_permits.iter().find(|p| p.day() == day)
    }

    /// The cached receiver permit for `day`.
    pub fn receiver_permit_for(&self, day: u32) -> Option<&ReceiverPermit> {
        self.receiver_permits.iter().find(|p| p.day() == day)
    }

    /// Adds permits (replacing those of the same days) and drops permits before `keep_from`.
    pub fn add_permits(
        &mut self,
        sender: Vec<SenderPermit>,
        receiver: Vec<ReceiverPermit>,
        keep_from: u32,
    ) {
        self.sender_permits
            .retain(|p| p.day() >= keep_from && !sender.iter().any(|n| n.day() == p.day()));
        self.sender_permits.extend(sender);
        self.sender_permits.sort_by_key(SenderPermit::day);
        self.receiver_permits
            .retain(|p| p.day() >= keep_from && !receiver.iter().any(|n| n.day() == p.day()));
        self.receiver_permits.extend(receiver);
        self.receiver_permits.sort_by_key(ReceiverPermit::day);
    }

    /// The JSON text (secret: it holds the keys).
    pub fn to_json(&self) -> Zeroizing<String> {
        let j = DeviceJson {
            version: 1,
            identity: self.identity.clone(),
            dtas: self.dtas.clone(),
            grant: self.grant.clone(),
            sender_key: self
                .sender_key
                .as_ref()
                .map(|k| hex::encode(&*k.to_bytes())),
            receiver_key: self
                .receiver_key
                .as_ref()
                .map(|k| hex::encode(&*k.to_bytes())),
            sender_permits: self
                .sender_permits
                .iter()
                .map(|p| PermitJson::new(p.day(), &p.to_bytes()))
                .collect(),
            receiver_permits: self
                .receiver_permits
                .iter()
                .map(|p| PermitJson::new(p.day(), &p.to_bytes()))
                .collect(),
        };
        Zeroizing::new(serde_json::to_string_pretty(&j).unwrap_or_default())
    }

    /// Parses the JSON text; `file` names the source in errors.
    pub fn from_json(text: &[u8], file: &Path) -> Result<Self, FileError> {
        let j: DeviceJson = json_file::parse(text, file, "device credential")?;
        json_file::check_header(file, j.version, &j.identity)?;
        json_file::check_dtas_and_grant(
            file,
            &j.identity,
            &j.dtas,
            &j.grant,
            GrantKind::Device,
            "must be a device grant",
        )?;
        let key = |name: &str, hex_str: &str| {
            hex::decode(hex_str)
                .map(Zeroizing::new)
                .map_err(|_| field_err(file, name, "not hex"))
        };
        let sender_key = match &j.sender_key {
            Some(h) => Some(
                SenderKey::from_bytes(&key("sender_key", h)?)
                    .map_err(|e| field_err(file, "sender_key", e.to_string()))?,
            ),
            None => None,
        };
        let receiver_key = match &j.receiver_key {
            Some(h) => Some(
                ReceiverKey::from_bytes(&key("receiver_key", h)?)
                    .map_err(|e| field_err(file, "receiver_key", e.to_string()))?,
            ),
            None => None,
        };
        let held = DeviceKeys::new(sender_key.is_some(), receiver_key.is_some())
            .ok_or_else(|| field_err(file, "sender_key", "the file holds no device key"))?;
        if j.grant.device_keys != Some(held) {
            return Err(field_err(
                file,
                "grant.device_keys",
                format!("the file holds the `{held}` keys; the grant is for others"),
            ));
        }
        let mut out = Self::new(
            j.identity.clone(),
            j.dtas.clone(),
            j.grant.clone(),
            sender_key,
            receiver_key,
        );
        for (i, p) in j.sender_permits.iter().enumerate() {
            let f = format!("sender_permits[{i}]");
            let b = key(&f, &p.permit)?;
            let tp =
                SenderPermit::from_bytes(&b).map_err(|e| field_err(file, &f, e.to_string()))?;
            if !held.send() || tp.day() != p.day {
                return Err(field_err(
                    file,
                    f,
                    "not a sender permit of this device for `day`",
                ));
            }
            out.sender_permits.push(tp);
        }
        for (i, p) in j.receiver_permits.iter().enumerate() {
            let f = format!("receiver_permits[{i}]");
            let b = key(&f, &p.permit)?;
            let tp =
                ReceiverPermit::from_bytes(&b).map_err(|e| field_err(file, &f, e.to_string()))?;
            if !held.receive() || tp.day() != p.day {
                return Err(field_err(
                    file,
                    f,
                    "not a receiver permit of this device for `day`",
                ));
            }
            out.receiver_permits.push(tp);
        }
        Ok(out)
    }

    /// Reads a device credential file (refused if group or others can read it).
    pub fn load(path: &Path) -> Result<Self, FileError> {
        json_file::load(path, Self::from_json)
    }

    /// Writes the device credential file atomically with mode 0600.
    pub fn save(&self, path: &Path) -> Result<(), FileError> {
        json_file::save(path, &self.to_json())
    }
}

#[cfg(test)]
mod tests;
