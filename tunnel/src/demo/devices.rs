//! The demo's device link: two devices enrolled at the same D-TAs (a sensor that may dial, a
//! gateway that may accept), a device server tunnel and a device client tunnel carrying data
//! to the echo service, and a client dialling another identity refused.

use std::fmt::Write as _;
use std::path::Path;
use std::sync::Arc;

use dta_client::client::DtaEndpoint;
use dta_client::ra::{DeviceKeys, RaKey};
use mpin_kex::HashedId;

use super::{at, refused, round_trip, start_service, DemoError, PAYLOAD, STEP_TIMEOUT};
use crate::service::Shared;

const SENSOR: &str = "device:sensor";
const GATEWAY: &str = "device:gateway";

/// Enrols `identity` with `keys` and one day of device permits; the credential's path.
async fn enrol(
    dir: &Path,
    ra: &RaKey,
    endpoints: &[DtaEndpoint],
    identity: &str,
    keys: DeviceKeys,
    today: u32,
) -> Result<std::path::PathBuf, DemoError> {
    let grant = ra.grant_device(
        &HashedId::of(identity.as_bytes()),
        keys,
        dta_client::clock::now(),
        600,
    );
    let mut cred = tokio::time::timeout(
        STEP_TIMEOUT,
        dta_client::device::enroll_device(endpoints, &grant, identity, None),
    )
    .await
    .map_err(at("device enrolment"))?
    .map_err(at("device enrolment"))?;
    dta_client::device::refresh_device_permits(&mut cred, today, 1, None)
        .await
        .map_err(at("device permit"))?;
    let path = dir.join(format!("{}.device", identity.replace(':', "-")));
    cred.save(&path).map_err(at("saving a device credential"))?;
    Ok(path)
}

/// Links two devices through tunnels in front of `echo`; the report's lines.
pub(super) async fn link(
    dir: &Path,
    ra: &RaKey,
    endpoints: &[DtaEndpoint],
    echo: &str,
    shared: &Arc<Shared>,
    today: u32,
) -> Result<String, DemoError> {
    let sensor = enrol(dir, ra, endpoints, SENSOR, DeviceKeys::Send, today).await?;
    let gateway = enrol(dir, ra, endpoints, GATEWAY, DeviceKeys::Receive, today).await?;
    let server = start_service(
        &format!(
            "[[service]]\nname = \"demo-gateway\"\nmode = \"server\"\naccept = \"127.0.0.1:0\"\nconnect = \"{echo}\"\ndevice_credential = {:?}\nallow = [\"device:sensor*\"]\n",
            gateway.display().to_string()
        ),
        shared,
    )
    .await?;
    let client_toml = |name: &str, peer: &str| {
        format!(
            "[[service]]\nname = \"{name}\"\nmode = \"client\"\naccept = \"127.0.0.1:0\"\nconnect = \"{}\"\ndevice_credential = {:?}\npeer = \"{peer}\"\n",
            server.local,
            sensor.display().to_string()
        )
    };
    let client = start_service(&client_toml("demo-sensor", GATEWAY), shared).await?;
    let astray = start_service(&client_toml("sensor-to-other", "device:other"), shared).await?;
    let first = round_trip(&client.local).await;
    let wrong_peer_refused = refused(&astray.local).await;
    astray.stop().await;
    client.stop().await;
    server.stop().await;
    let first = first?;
    if !wrong_peer_refused? {
        return Err(DemoError {
            step: "wrong peer",
            why: "a device dialling another identity got through".into(),
        });
    }
    let mut r = String::new();
    let _ = writeln!(
        r,
        "  devices       {SENSOR} (sender key) and {GATEWAY} (receiver key), keys from 3 D-TA shares of the P2P master share, no server secret"
    );
    let _ = writeln!(
        r,
        "  device link   WCC → RFC 9258 PSK → TLS 1.3: {SENSOR}->{GATEWAY} method=p2p; {PAYLOAD} bytes echoed identical, first byte {:.1} ms",
        first.as_secs_f64() * 1e3
    );
    let _ = writeln!(
        r,
        "  wrong peer    {SENSOR} dialling device:other refused (nothing reached the echo service)"
    );
    Ok(r)
}
