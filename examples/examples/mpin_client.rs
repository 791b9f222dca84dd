//! A minimal M-Pin client in 39 lines (this file, comments included): connects, sends one
//! line, prints what the handshake negotiated and the reply (`mpin_echo_server` answers
//! with its view of who we are). `mpin_client ADDR CREDENTIAL_FILE PIN_FILE LINE`
#![forbid(unsafe_code)]
use std::{error::Error, path::Path, process::ExitCode, sync::Arc};

use dta_client::{files::CredentialFile, pin_input::read_pin};
use milagro_tls::mpin::{MpinClientConfig, MpinConnector};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

async fn run(addr: &str, credential: &str, pin: &str, line: &str) -> Result<(), Box<dyn Error>> {
    let day = mpin_kex::policy::day_of(dta_client::clock::now());
    let credential = CredentialFile::load(Path::new(credential))?.to_credential(day)?;
    let config = MpinClientConfig::new(Arc::new(credential), read_pin(Some(Path::new(pin)))?);
    let sock = tokio::net::TcpStream::connect(addr).await?;
    let mut tls = MpinConnector::new(Arc::new(config)).connect(sock).await?;
    if let Some(n) = tls.negotiated() {
        println!("negotiated suite={} group={}", n.suite, n.group);
    }
    tls.write_all(format!("{line}\n").as_bytes()).await?;
    let mut reply = String::new();
    BufReader::new(&mut tls).read_line(&mut reply).await?;
    print!("{reply}");
    Ok(tls.shutdown().await?)
}

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let [_, addr, credential, pin_file, line] = args.as_slice() else {
        eprintln!("usage: mpin_client ADDR CREDENTIAL_FILE PIN_FILE LINE");
        return ExitCode::FAILURE;
    };
    if let Err(e) = run(addr, credential, pin_file, line).await {
        eprintln!("mpin_client: {e}");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}
