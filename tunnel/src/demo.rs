//! `milagro-tunnel demo`: the whole system on loopback, with no setup.
//!
//! Three D-TAs (each with its own sealed master share, HTTPS and signing keys) and a
//! Registration Authority are created in a temporary folder; `alice` is enrolled with a PIN,
//! the server is provisioned, an echo service, an M-Pin tunnel server and an M-Pin tunnel client
//! are started, data goes through and is checked, a client with a wrong PIN is refused, two
//! devices are enrolled and linked through device tunnels (`demo/devices.rs`), and a report is
//! printed. Everything is stopped and the folder removed at the end.

use std::fmt::Write as _;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use dta_client::client::DtaEndpoint;
use dta_client::ra::RaKey;
use dta_lite::seal::SealParams;
use mpin_kex::{policy, HashedId, Pin};
use rand_core::{OsRng, RngCore};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

mod devices;

use crate::config::Config;
use crate::metrics::Metrics;
use crate::service::{Runtime, ServiceHandle, Shared};

const IDENTITY: &str = "alice";
const PIN: &str = "1234";
const WRONG_PIN: &str = "4321";
const PAYLOAD: usize = 1 << 20;
const STEP_TIMEOUT: Duration = Duration::from_secs(30);

/// A demo step failed; the message says which.
#[derive(Debug, thiserror::Error)]
#[error("demo: {step}: {why}")]
pub struct DemoError {
    step: &'static str,
    why: String,
}

fn at<E: std::fmt::Display>(step: &'static str) -> impl Fn(E) -> DemoError {
    move |e| DemoError {
        step,
        why: e.to_string(),
    }
}

/// One D-TA running in this process (HTTPS on 127.0.0.1, an OS-chosen port).
pub struct LocalDta {
    /// How clients reach and pin it.
    pub endpoint: DtaEndpoint,
    /// Its server task (abort to stop it).
    pub task: JoinHandle<std::io::Result<()>>,
}

/// Creates a D-TA in `dir` (a fresh sealed master share; the RA's public key trusted) and
/// serves it on loopback.
pub async fn start_dta(dir: &Path, name: &str, ra: &RaKey) -> Result<LocalDta, DemoError> {
    let passphrase = {
        let mut p = [0u8; 24];
        OsRng.fill_bytes(&mut p);
        hex::encode(p)
    };
    let summary = dta_lite::dtadir::init(
        dir,
        name,
        &[ra.public()],
        passphrase.as_bytes(),
        SealParams::default(),
    )
    .map_err(at("initialising a D-TA"))?;
    let opened =
        dta_lite::dtadir::open(dir, passphrase.as_bytes()).map_err(at("opening a D-TA"))?;
    let tls =
        dta_lite::tls::server_config(&opened.tls_cert, &opened.tls_key).map_err(at("D-TA TLS"))?;
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(at("binding a D-TA"))?;
    let addr = listener.local_addr().map_err(at("binding a D-TA"))?;
    let task = tokio::spawn(dta_lite::server::serve(
        Arc::new(opened.dta),
        listener,
        Arc::new(tls),
    ));
    Ok(LocalDta {
        endpoint: DtaEndpoint {
            url: format!("https://{addr}"),
            fingerprint: summary.fingerprint,
            signing_key: summary.signing_key,
        },
        task,
    })
}

async fn start_echo() -> Result<(String, JoinHandle<()>), DemoError> {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(at("starting the echo service"))?;
    let addr = listener
        .local_addr()
        .map_err(at("starting the echo service"))?
        .to_string();
    let task = tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            tokio::spawn(async move {
                let (mut r, mut w) = s.split();
                let _ = tokio::io::copy(&mut r, &mut w).await;
            });
        }
    });
    Ok((addr, task))
}

fn write_secret(path: &Path, text: &str) -> Result<(), DemoError> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(at("writing a PIN file"))?;
    std::io::Write::write_all(&mut f, text.as_bytes()).map_err(at("writing a PIN file"))
}

async fn start_service(toml: &str, shared: &Arc<Shared>) -> Result<ServiceHandle, DemoError> {
    let config = Config::from_toml_str(toml, "demo").map_err(at("tunnel configuration"))?;
    let service = config
        .services
        .into_iter()
        .next()
        .ok_or_else(|| DemoError {
            step: "tunnel configuration",
            why: "no service".into(),
        })?;
    let listener = service
        .accept
        .bind()
        .await
        .map_err(at("binding a tunnel"))?;
    let fleet = crate::fleet::Fleet::open(&config.fleet).map_err(at("opening the state"))?;
    let runtime = Runtime::build(service, &fleet).map_err(at("starting a tunnel"))?;
    Ok(ServiceHandle::start(
        listener,
        Arc::new(runtime),
        shared.clone(),
    ))
}

/// Sends `PAYLOAD` random bytes through `addr` and checks the echo; returns the time to the
/// first echoed byte.
async fn round_trip(addr: &str) -> Result<Duration, DemoError> {
    let started = Instant::now();
    let mut s = TcpStream::connect(addr)
        .await
        .map_err(at("connecting to the client tunnel"))?;
    let mut data = vec![0u8; PAYLOAD];
    OsRng.fill_bytes(&mut data);
    let (mut r, mut w) = s.split();
    let send = async {
        w.write_all(&data).await?;
        w.shutdown().await
    };
    let recv = async {
        let mut back = Vec::with_capacity(PAYLOAD);
        let mut first = None;
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = r.read(&mut buf).await?;
            if n == 0 {
                break;
            }
            first.get_or_insert_with(|| started.elapsed());
            back.extend_from_slice(&buf[..n]);
        }
        Ok::<_, std::io::Error>((back, first))
    };
    let (sent, got) = tokio::time::timeout(STEP_TIMEOUT, async { tokio::join!(send, recv) })
        .await
        .map_err(at("sending data through the tunnel"))?;
    sent.map_err(at("sending data through the tunnel"))?;
    let (back, first) = got.map_err(at("reading the echo"))?;
    if back != data {
        return Err(DemoError {
            step: "checking the echo",
            why: format!(
                "sent {} bytes, got {} different ones back",
                data.len(),
                back.len()
            ),
        });
    }
    first.ok_or_else(|| DemoError {
        step: "reading the echo",
        why: "no data came back".into(),
    })
}

struct Probe {
    suite: String,
    group: String,
    handshake: Duration,
}

/// One direct M-Pin connection to the server tunnel, to report what was negotiated.
async fn probe(
    cred: &dta_client::files::CredentialFile,
    today: u32,
    pin: &Pin,
    server: &str,
) -> Result<Probe, DemoError> {
    use milagro_tls::mpin::{MpinClientConfig, MpinConnector};
    let credential = cred
        .to_credential(today)
        .map_err(at("loading the credential"))?;
    let connector = MpinConnector::new(Arc::new(MpinClientConfig::new(
        Arc::new(credential),
        pin.clone(),
    )));
    let tcp = TcpStream::connect(server)
        .await
        .map_err(at("connecting to the server tunnel"))?;
    let started = Instant::now();
    let mut tls = connector
        .connect(tcp)
        .await
        .map_err(at("M-Pin handshake"))?;
    let handshake = started.elapsed();
    let suite = tls.cipher_suite().map_or("?", |s| s.name()).to_string();
    let group = tls.group().map_or("?", |g| g.name()).to_string();
    let _ = tls.shutdown().await;
    Ok(Probe {
        suite,
        group,
        handshake,
    })
}

/// A connection through the wrong-PIN client tunnel must deliver nothing.
async fn refused(addr: &str) -> Result<bool, DemoError> {
    let mut s = TcpStream::connect(addr)
        .await
        .map_err(at("connecting to the wrong-PIN tunnel"))?;
    let _ = s.write_all(b"let me in").await;
    let mut buf = [0u8; 16];
    let n = tokio::time::timeout(STEP_TIMEOUT, s.read(&mut buf))
        .await
        .map_err(at("waiting for the refusal"))?;
    Ok(matches!(n, Ok(0) | Err(_)))
}

/// Runs the demo and returns the report.
pub async fn run() -> Result<String, DemoError> {
    let tmp = tempfile::tempdir().map_err(at("creating a temporary folder"))?;
    let dir = tmp.path();
    let mut report = String::new();

    // Registration Authority and three independent D-TAs.
    let ra = RaKey::generate();
    let mut dtas = Vec::new();
    for i in 1..=3 {
        dtas.push(start_dta(&dir.join(format!("dta{i}")), &format!("dta{i}"), &ra).await?);
    }
    let endpoints: Vec<DtaEndpoint> = dtas.iter().map(|d| d.endpoint.clone()).collect();
    let now = dta_client::clock::now();
    let today = policy::day_of(now);

    // Enrolment: the RA grants, alice fetches her shares and extracts her PIN.
    let hashed = HashedId::of(IDENTITY.as_bytes());
    let grant = ra.grant_client(&hashed, now, 600);
    let pin: Pin = PIN.parse().map_err(at("PIN"))?;
    let mut cred = tokio::time::timeout(
        STEP_TIMEOUT,
        dta_client::client::enroll(&endpoints, &grant, IDENTITY, &pin, None),
    )
    .await
    .map_err(at("enrolment"))?
    .map_err(at("enrolment"))?;
    dta_client::client::refresh_permits(&mut cred, today, 1, None)
        .await
        .map_err(at("time permit"))?;
    let cred_path = dir.join("alice.credential");
    cred.save(&cred_path).map_err(at("saving the credential"))?;
    let server_grant = ra.grant_server("demo-server", now, 600);
    let ss = dta_client::client::server_secret(&endpoints, &server_grant, None)
        .await
        .map_err(at("server secret"))?;
    let ss_path = dir.join("server.secret");
    ss.save(&ss_path).map_err(at("saving the server secret"))?;
    let (pin_ok, pin_bad) = (dir.join("pin"), dir.join("wrong-pin"));
    write_secret(&pin_ok, PIN)?;
    write_secret(&pin_bad, WRONG_PIN)?;

    // Echo service, tunnel server (M-Pin, permits required), tunnel clients.
    let (echo, echo_task) = start_echo().await?;
    let shared = Arc::new(Shared::new(Arc::new(Metrics::default())));
    let server = start_service(
        &format!(
            "[[service]]\nname = \"demo-server\"\nmode = \"server\"\naccept = \"127.0.0.1:0\"\nconnect = \"{echo}\"\nserver_secret = {:?}\nrequire_permits = true\nallow = [\"alice\"]\n",
            ss_path.display().to_string()
        ),
        &shared,
    )
    .await?;
    let client_toml = |name: &str, pin: &Path| {
        format!(
            "[[service]]\nname = \"{name}\"\nmode = \"client\"\naccept = \"127.0.0.1:0\"\nconnect = \"{}\"\ncredential = {:?}\npin_file = {:?}\n",
            server.local,
            cred_path.display().to_string(),
            pin.display().to_string()
        )
    };
    let client = start_service(&client_toml("demo-client", &pin_ok), &shared).await?;
    let intruder = start_service(&client_toml("wrong-pin-client", &pin_bad), &shared).await?;

    // Handshake facts from a direct connection, then data through the tunnels.
    let probe = probe(&cred, today, &pin, &server.local).await?;
    let first_byte = round_trip(&client.local).await?;
    let second = round_trip(&client.local).await?;
    let wrong_pin_refused = refused(&intruder.local).await?;
    if !wrong_pin_refused {
        return Err(DemoError {
            step: "wrong PIN",
            why: "a client with the wrong PIN got through".into(),
        });
    }
    // Two devices linked through the same D-TAs and echo service.
    let device_lines = devices::link(dir, &ra, &endpoints, &echo, &shared, today).await?;

    let _ = writeln!(
        report,
        "milagro-tunnel demo: everything on 127.0.0.1, files in {} (removed at exit)",
        dir.display()
    );
    for (i, d) in dtas.iter().enumerate() {
        let _ = writeln!(
            report,
            "  D-TA {}        {}  (pin {}…)",
            i + 1,
            d.endpoint.url,
            &d.endpoint.fingerprint[..16]
        );
    }
    let _ = writeln!(
        report,
        "  identity      {IDENTITY} → hashed {} (all the D-TAs ever saw)",
        hashed.short_hex()
    );
    let _ = writeln!(
        report,
        "  credential    token from 3 shares, PIN extracted, permit for day {today}"
    );
    let _ = writeln!(
        report,
        "  mode          M-Pin Full multi-pass → RFC 9258 PSK → TLS 1.3 psk_dhe_ke; reconnects resume with a session ticket"
    );
    let _ = writeln!(
        report,
        "  tunnels       client {} → server {} → echo {echo}",
        client.local, server.local
    );
    let _ = writeln!(report, "  suite, group  {}, {}", probe.suite, probe.group);
    let _ = writeln!(report, "  handshake     {:.1} ms (M-Pin hello, challenge, response + TLS 1.3, direct to the server tunnel)", probe.handshake.as_secs_f64() * 1e3);
    let _ = writeln!(report, "  first byte    {:.1} ms through client tunnel → server tunnel → echo (full M-Pin); {:.1} ms on the next connection (resumed, no pairings)", first_byte.as_secs_f64() * 1e3, second.as_secs_f64() * 1e3);
    let _ = writeln!(
        report,
        "  bytes checked {} sent and echoed back identical, twice",
        2 * PAYLOAD
    );
    let _ = writeln!(report, "  wrong PIN     refused (one generic failure on the wire; nothing reached the echo service)");
    report.push_str(&device_lines);

    intruder.stop().await;
    client.stop().await;
    server.stop().await;
    echo_task.abort();
    for d in dtas {
        d.task.abort();
    }
    drop(tmp);
    Ok(report)
}
