//! `milagro-tunnel enroll | server-secret | permit`: provisioning from the D-TAs
//! (`dta_client::client`), with progress per D-TA on stderr.

use std::path::Path;

use dta_client::client::{self, ClientError, DtaEndpoint};
use dta_client::ra::Grant;
use mpin_kex::policy;

/// Why provisioning failed; every message names the file or D-TA at fault.
#[derive(Debug, thiserror::Error)]
pub enum ProvisionError {
    /// A D-TA request failed (the message names the D-TA).
    #[error(transparent)]
    Dta(#[from] ClientError),
    /// A file could not be read or written.
    #[error(transparent)]
    File(#[from] dta_client::files::FileError),
    /// The grant file is unusable.
    #[error("{file}: {why}")]
    Grant {
        /// The grant file.
        file: String,
        /// Why.
        why: String,
    },
    /// The PIN could not be read.
    #[error(transparent)]
    Pin(#[from] dta_client::pin_input::InputError),
    /// Refusing to overwrite.
    #[error("{0}: already exists; remove it first (nothing was changed)")]
    Exists(String),
    /// No D-TA given.
    #[error("at least one --dta URL,FINGERPRINT,SIGNING_KEY is needed")]
    NoDta,
}

fn progress(url: &str, r: Result<(), &ClientError>) {
    match r {
        Ok(()) => eprintln!("  {url}: ok"),
        Err(e) => eprintln!("  {url}: {e}"),
    }
}

fn load_grant(path: &Path) -> Result<Grant, ProvisionError> {
    Grant::load(path).map_err(|e| ProvisionError::Grant {
        file: path.display().to_string(),
        why: e.to_string(),
    })
}

fn fresh(out: &Path) -> Result<(), ProvisionError> {
    if out.exists() {
        return Err(ProvisionError::Exists(out.display().to_string()));
    }
    Ok(())
}

/// Today's UTC day number ([`dta_client::clock::now`]).
pub fn today() -> u32 {
    policy::day_of(dta_client::clock::now())
}

/// How many days of permits to ask for: `wanted` (`None`: all of them) cut to the smallest
/// permit horizon among `dtas` (asked with `GET /v1/info`), with a warning when cut.
pub async fn permit_days(dtas: &[DtaEndpoint], wanted: Option<u32>) -> Result<u32, ClientError> {
    let horizon = client::permit_horizon(dtas, None).await?;
    Ok(match wanted {
        Some(n) if n > horizon => {
            eprintln!(
                "warning: --days {n} is beyond the D-TAs' permit horizon of {horizon} day(s); \
                 fetching days {} to {} only (refetch later: the tunnel client does it by itself)",
                today(),
                today().saturating_add(horizon - 1)
            );
            horizon
        }
        Some(n) => n,
        None => horizon,
    })
}

/// Enrols `identity` at every D-TA, asks for the PIN, writes the credential (mode 0600, no
/// PIN inside) with `days` days of permits (see [`permit_days`]; `Some(0)`: none).
pub async fn enroll(
    identity: &str,
    dtas: &[DtaEndpoint],
    grant: &Path,
    out: &Path,
    pin_file: Option<&Path>,
    days: Option<u32>,
) -> Result<(), ProvisionError> {
    if dtas.is_empty() {
        return Err(ProvisionError::NoDta);
    }
    fresh(out)?;
    let grant = load_grant(grant)?;
    let pin = dta_client::pin_input::read_pin(pin_file)?;
    eprintln!("enrolling {identity} at {} D-TAs", dtas.len());
    let mut cred = client::enroll(dtas, &grant, identity, &pin, Some(&progress)).await?;
    if days != Some(0) {
        let days = permit_days(dtas, days).await?;
        eprintln!("fetching {days} day(s) of time permits");
        client::refresh_permits(&mut cred, today(), days, Some(&progress)).await?;
    }
    cred.save(out)?;
    eprintln!(
        "wrote {} (token and permits; the PIN is not stored)",
        out.display()
    );
    Ok(())
}

/// Enrols the device `identity` at every D-TA with a device grant, writes the device
/// credential (mode 0600, keys whole, no PIN) with `days` days of device permits (see
/// [`permit_days`]; `Some(0)`: none).
pub async fn enroll_device(
    identity: &str,
    dtas: &[DtaEndpoint],
    grant: &Path,
    out: &Path,
    days: Option<u32>,
) -> Result<(), ProvisionError> {
    if dtas.is_empty() {
        return Err(ProvisionError::NoDta);
    }
    fresh(out)?;
    let grant = load_grant(grant)?;
    eprintln!("enrolling the device {identity} at {} D-TAs", dtas.len());
    let mut cred =
        dta_client::device::enroll_device(dtas, &grant, identity, Some(&progress)).await?;
    if days != Some(0) {
        let days = permit_days(dtas, days).await?;
        eprintln!("fetching {days} day(s) of device permits");
        dta_client::device::refresh_device_permits(&mut cred, today(), days, Some(&progress))
            .await?;
    }
    cred.save(out)?;
    let keys = cred.keys().map_or("no".to_owned(), |k| format!("`{k}`"));
    eprintln!(
        "wrote {} (device identity {identity}, {keys} keys held whole, permits)",
        out.display()
    );
    Ok(())
}

/// Fetches the server secret from every D-TA and writes it (mode 0600).
pub async fn server_secret(
    dtas: &[DtaEndpoint],
    grant: &Path,
    out: &Path,
) -> Result<(), ProvisionError> {
    if dtas.is_empty() {
        return Err(ProvisionError::NoDta);
    }
    fresh(out)?;
    let grant = load_grant(grant)?;
    eprintln!("fetching the server secret from {} D-TAs", dtas.len());
    let file = client::server_secret(dtas, &grant, Some(&progress)).await?;
    file.save(out)?;
    eprintln!("wrote {}", out.display());
    Ok(())
}

/// Fetches `days` days of permits for a credential (see [`permit_days`]) and saves it.
pub async fn permit(credential: &Path, days: Option<u32>) -> Result<(), ProvisionError> {
    let mut cred = dta_client::files::CredentialFile::load(credential)?;
    let days = permit_days(&cred.dtas, days.map(|d| d.max(1))).await?;
    eprintln!(
        "fetching {days} day(s) of time permits for {}",
        cred.identity
    );
    let n = client::refresh_permits(&mut cred, today(), days, Some(&progress)).await?;
    cred.save(credential)?;
    eprintln!(
        "{}: {n} permit(s) from day {}",
        credential.display(),
        today()
    );
    Ok(())
}
