//! `dta-lite`: run a Distributed Trust Authority, and the Registration Authority's tools.
#![forbid(unsafe_code)]

use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand};
use dta_lite::client::DtaEndpoint;
use dta_lite::ra::{self, DeviceKeys, Grant, RaKey};
use dta_lite::{client, dtadir, pin_input, seal, server, tls};
use mpin_kex::HashedId;

#[derive(Parser)]
#[command(
    name = "dta-lite",
    version,
    about = "A minimal Distributed Trust Authority for M-Pin"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Create a D-TA: master share (sealed), TLS certificate, response-signing key.
    Init {
        /// The D-TA's folder (created with mode 0700).
        #[arg(long)]
        dir: PathBuf,
        /// A name shown in /v1/info.
        #[arg(long, default_value = "dta")]
        name: String,
        /// A trusted RA public key (hex); repeatable.
        #[arg(long = "ra-pubkey")]
        ra_pubkeys: Vec<String>,
        /// File holding the passphrase (else DTA_PASSPHRASE, else a prompt).
        #[arg(long)]
        passphrase_file: Option<PathBuf>,
    },
    /// Add a P2P master share (device keys) to a D-TA made before they existed: sealed into
    /// p2p.sealed with the D-TA's passphrase; the M-Pin master share is not changed.
    AddP2pShare {
        /// The D-TA's folder.
        #[arg(long)]
        dir: PathBuf,
        /// File holding the passphrase (else DTA_PASSPHRASE, else a prompt).
        #[arg(long)]
        passphrase_file: Option<PathBuf>,
    },
    /// Serve the HTTPS API.
    Serve {
        /// The D-TA's folder.
        #[arg(long)]
        dir: PathBuf,
        /// Address to listen on (port 0: any free port; the first stdout line tells).
        #[arg(long, default_value = "127.0.0.1:7443")]
        listen: SocketAddr,
        /// File holding the passphrase (else DTA_PASSPHRASE, else a prompt).
        #[arg(long)]
        passphrase_file: Option<PathBuf>,
        /// Issue time permits for today up to today + DAYS - 1 only (and yesterday during
        /// the first hour of the UTC day). A revoked identity keeps working at most until
        /// its last permit's day ends: keep this small. Published in /v1/info.
        #[arg(long, value_name = "DAYS", default_value_t = dta_lite::api::DEFAULT_PERMIT_HORIZON_DAYS,
              value_parser = clap::value_parser!(u32).range(1..=i64::from(dta_lite::api::MAX_PERMIT_HORIZON_DAYS)))]
        permit_horizon: u32,
    },
    /// Revoke a hashed identity in the D-TA's database (the server must be stopped; while it
    /// runs use `dta-lite ra revoke`).
    Revoke {
        /// The D-TA's folder.
        #[arg(long)]
        dir: PathBuf,
        /// The hashed identity (96 hex digits).
        #[arg(long)]
        hashed_id: String,
    },
    /// Print counters, revocations and the audit-chain check (the server must be stopped;
    /// while it runs use GET /metrics).
    Stats {
        /// The D-TA's folder.
        #[arg(long)]
        dir: PathBuf,
    },
    /// Registration Authority tools.
    Ra {
        #[command(subcommand)]
        cmd: RaCmd,
    },
}

#[derive(Subcommand)]
enum RaCmd {
    /// Create an RA key pair: FILE (secret, mode 0600) and FILE.pub.
    Keygen {
        /// The secret key file.
        #[arg(long)]
        out: PathBuf,
    },
    /// Make a D-TA trust an RA public key (restart the server to apply).
    Trust {
        /// The D-TA's folder.
        #[arg(long)]
        dir: PathBuf,
        /// The RA public key (hex).
        #[arg(long)]
        pubkey: String,
    },
    /// Sign a grant.
    Grant {
        #[command(subcommand)]
        kind: GrantCmd,
    },
    /// Revoke an identity at running D-TAs (RA-signed requests).
    Revoke {
        /// The RA secret key file.
        #[arg(long)]
        key: PathBuf,
        /// A D-TA as URL,FINGERPRINT,SIGNING_KEY; repeatable.
        #[arg(long = "dta", required = true)]
        dtas: Vec<DtaEndpoint>,
        /// The identity (hashed here; D-TAs see only the hash).
        #[arg(
            long,
            conflicts_with = "hashed_id",
            required_unless_present = "hashed_id"
        )]
        identity: Option<String>,
        /// The hashed identity (96 hex digits).
        #[arg(long)]
        hashed_id: Option<String>,
    },
}

#[derive(Subcommand)]
enum GrantCmd {
    /// A grant for a client identity (contains only its hash).
    Client {
        /// The RA secret key file.
        #[arg(long)]
        key: PathBuf,
        /// The identity.
        #[arg(long)]
        identity: String,
        /// Enrolment window in seconds.
        #[arg(long, default_value_t = 3600)]
        valid_secs: u64,
        /// Output file (mode 0600).
        #[arg(long)]
        out: PathBuf,
    },
    /// A grant for a device (P2P links; contains only its hashed identity): --send for the
    /// key to dial, --receive for the key to accept; neither means both.
    Device {
        /// The RA secret key file.
        #[arg(long)]
        key: PathBuf,
        /// The device identity.
        #[arg(long)]
        identity: String,
        /// Allow the sender key (G1): the device may dial.
        #[arg(long)]
        send: bool,
        /// Allow the receiver key (G2): the device may accept.
        #[arg(long)]
        receive: bool,
        /// Enrolment window in seconds.
        #[arg(long, default_value_t = 3600)]
        valid_secs: u64,
        /// Output file (mode 0600).
        #[arg(long)]
        out: PathBuf,
    },
    /// A grant for a relying server's server secret.
    Server {
        /// The RA secret key file.
        #[arg(long)]
        key: PathBuf,
        /// The server's name.
        #[arg(long)]
        name: String,
        /// Enrolment window in seconds.
        #[arg(long, default_value_t = 3600)]
        valid_secs: u64,
        /// Output file (mode 0600).
        #[arg(long)]
        out: PathBuf,
    },
}

type Res = Result<(), Box<dyn std::error::Error>>;

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let mut msg = e.to_string();
            let mut src = e.source();
            while let Some(s) = src {
                let t = s.to_string();
                if !msg.contains(&t) {
                    msg.push_str(": ");
                    msg.push_str(&t);
                }
                src = s.source();
            }
            eprintln!("dta-lite: error: {msg}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Res {
    match cli.cmd {
        Cmd::Init {
            dir,
            name,
            ra_pubkeys,
            passphrase_file,
        } => {
            let keys = ra_pubkeys
                .iter()
                .map(|k| ra::parse_public_key(k, "--ra-pubkey"))
                .collect::<Result<Vec<_>, _>>()?;
            let pw = pin_input::read_passphrase(passphrase_file.as_deref(), true)?;
            let s = dtadir::init(
                &dir,
                &name,
                &keys,
                pw.as_bytes(),
                seal::SealParams::default(),
            )?;
            println!("initialised D-TA `{name}` in {}", dir.display());
            println!("fingerprint {}", s.fingerprint);
            println!("signing-key {}", s.signing_key);
            println!(
                "clients use: https://HOST:PORT,{},{}",
                s.fingerprint, s.signing_key
            );
            Ok(())
        }
        Cmd::AddP2pShare {
            dir,
            passphrase_file,
        } => {
            let pw = pin_input::read_passphrase(passphrase_file.as_deref(), false)?;
            dtadir::add_p2p_share(&dir, pw.as_bytes())?;
            println!(
                "added a P2P master share to {} ({}); restart the server to apply",
                dir.display(),
                dtadir::P2P_SEALED_FILE
            );
            Ok(())
        }
        Cmd::Serve {
            dir,
            listen,
            passphrase_file,
            permit_horizon,
        } => serve(&dir, listen, passphrase_file.as_deref(), permit_horizon),
        Cmd::Revoke { dir, hashed_id } => {
            let id =
                ra::parse_hashed_id(&hashed_id).map_err(|why| format!("--hashed-id: {why}"))?;
            let db = dta_lite::db::Db::open(&dtadir::db_path(&dir))?;
            let newly = db.revoke(&id, "operator (dta-lite revoke)", server::unix_now())?;
            println!(
                "{} {}",
                if newly { "revoked" } else { "already revoked" },
                id.short_hex()
            );
            Ok(())
        }
        Cmd::Stats { dir } => {
            let db = dta_lite::db::Db::open(&dtadir::db_path(&dir))?;
            for (k, v) in db.counters()? {
                println!("{k} {v}");
            }
            println!("revoked_identities {}", db.revoked_count()?);
            println!("audit_records {} (chain verified)", db.verify_audit()?);
            Ok(())
        }
        Cmd::Ra { cmd } => ra_cmd(cmd),
    }
}

fn ra_cmd(cmd: RaCmd) -> Res {
    let now = server::unix_now();
    match cmd {
        RaCmd::Keygen { out } => {
            let k = RaKey::generate();
            k.save(&out)?;
            let mut pub_path = out.clone().into_os_string();
            pub_path.push(".pub");
            let pub_path = PathBuf::from(pub_path);
            dta_lite::fsutil::write_atomic(
                &pub_path,
                format!("{}\n", k.public_hex()).as_bytes(),
                dta_lite::fsutil::PUBLIC_MODE,
            )?;
            println!("{}", k.public_hex());
            Ok(())
        }
        RaCmd::Trust { dir, pubkey } => {
            let k = ra::parse_public_key(&pubkey, "--pubkey")?;
            let added = dtadir::trust(&dir, &k)?;
            println!(
                "{}",
                if added {
                    "trusted (restart the server to apply)"
                } else {
                    "already trusted"
                }
            );
            Ok(())
        }
        RaCmd::Grant {
            kind:
                GrantCmd::Client {
                    key,
                    identity,
                    valid_secs,
                    out,
                },
        } => {
            let k = RaKey::load(&key)?;
            let id = HashedId::of(identity.as_bytes());
            k.grant_client(&id, now, valid_secs).save(&out)?;
            println!("hashed-id {}", hex::encode(id.as_bytes()));
            Ok(())
        }
        RaCmd::Grant {
            kind:
                GrantCmd::Device {
                    key,
                    identity,
                    send,
                    receive,
                    valid_secs,
                    out,
                },
        } => {
            let k = RaKey::load(&key)?;
            let id = HashedId::of(identity.as_bytes());
            let keys = DeviceKeys::new(send, receive).unwrap_or(DeviceKeys::Both);
            k.grant_device(&id, keys, now, valid_secs).save(&out)?;
            println!("hashed-id {}", hex::encode(id.as_bytes()));
            println!("device-keys {keys}");
            Ok(())
        }
        RaCmd::Grant {
            kind:
                GrantCmd::Server {
                    key,
                    name,
                    valid_secs,
                    out,
                },
        } => {
            let k = RaKey::load(&key)?;
            let g: Grant = k.grant_server(&name, now, valid_secs);
            g.verify(&[k.public()])?;
            g.save(&out)?;
            Ok(())
        }
        RaCmd::Revoke {
            key,
            dtas,
            identity,
            hashed_id,
        } => {
            let k = RaKey::load(&key)?;
            let id = match (identity, hashed_id) {
                (Some(i), _) => HashedId::of(i.as_bytes()),
                (None, Some(h)) => {
                    ra::parse_hashed_id(&h).map_err(|why| format!("--hashed-id: {why}"))?
                }
                (None, None) => return Err("give --identity or --hashed-id".into()),
            };
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            let progress = |url: &str, r: Result<(), &client::ClientError>| match r {
                Ok(()) => eprintln!("{url}: revoked"),
                Err(e) => eprintln!("{e}"),
            };
            rt.block_on(client::revoke(&dtas, &k, &id, Some(&progress)))?;
            println!("revoked {}", id.short_hex());
            Ok(())
        }
    }
}

fn serve(
    dir: &Path,
    listen: SocketAddr,
    passphrase_file: Option<&Path>,
    permit_horizon: u32,
) -> Res {
    let pw = pin_input::read_passphrase(passphrase_file, false)?;
    let opened = dtadir::open(dir, pw.as_bytes())?;
    drop(pw);
    let tls_cfg = Arc::new(tls::server_config(&opened.tls_cert, &opened.tls_key)?);
    let dta = Arc::new(opened.dta.with_permit_horizon(permit_horizon));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .map_err(|e| format!("cannot listen on {listen}: {e}"))?;
        let addr = listener.local_addr()?;
        {
            let mut out = std::io::stdout().lock();
            writeln!(out, "listening on {addr}")?;
            writeln!(
                out,
                "dta https://{addr},{},{}",
                opened.config.fingerprint, opened.config.signing_key
            )?;
            out.flush()?;
        }
        tracing::info!(%addr, name = %opened.config.name, permit_horizon_days = dta.permit_horizon(), "D-TA serving");
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        tokio::select! {
            r = server::serve(dta, listener, tls_cfg) => r?,
            _ = tokio::signal::ctrl_c() => tracing::info!("interrupted; stopping"),
            _ = term.recv() => tracing::info!("SIGTERM; stopping"),
        }
        Ok::<(), Box<dyn std::error::Error>>(())
    })
}
