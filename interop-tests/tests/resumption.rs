//! Session resumption against OpenSSL 3 and stunnel4: our client resumes
//! with a ticket from `openssl s_server -psk`; `openssl s_client
//! -sess_out/-sess_in` and a stunnel client resume with tickets from our
//! server.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code

use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use interop_tests::*;
use milagro_tls::{
    ClientConfig, ClientTicket, Connector, ServerConfig, StaticPskStore, TicketSettings,
    TicketStore,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const T: Duration = Duration::from_secs(20);

/// One line through `s_server -rev`; returns whether the handshake resumed
/// and the tickets received.
async fn line_through(port: u16, config: ClientConfig) -> (bool, Vec<ClientTicket>) {
    let sock = tokio::net::TcpStream::connect((LOOPBACK, port))
        .await
        .unwrap();
    let mut tls = Connector::new(Arc::new(config))
        .with_handshake_timeout(T)
        .connect(sock)
        .await
        .unwrap();
    tls.write_all(b"hello\n").await.unwrap();
    let mut back = [0u8; 6];
    tls.read_exact(&mut back).await.unwrap();
    assert_eq!(&back, b"olleh\n");
    let resumed = tls.resumed();
    let tickets = tls.take_tickets();
    let _ = tls.shutdown().await;
    (resumed, tickets)
}

#[test]
fn our_client_resumes_with_an_s_server_ticket() {
    require_tool("openssl");
    let port = free_port();
    let mut cmd = Command::new("openssl");
    cmd.args(["s_server", "-accept", &format!("{LOOPBACK}:{port}")])
        .args(["-nocert", "-tls1_3", "-rev"])
        .args(["-psk", KEY_HEX, "-psk_identity", IDENTITY]);
    let _server = ProcessGuard::spawn_quiet(&mut cmd, "openssl s_server").unwrap();
    wait_for_port(port, Duration::from_secs(10)).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let (resumed, mut tickets) =
            line_through(port, ClientConfig::new(psk(IDENTITY, KEY_HEX))).await;
        assert!(!resumed);
        let ticket = tickets.pop().expect("s_server sends a NewSessionTicket");
        // offering only the ticket: without resumption s_server (no certificate) could not
        // complete the handshake at all
        let (resumed, tickets) = line_through(port, ClientConfig::resuming(ticket)).await;
        assert!(resumed);
        assert!(!tickets.is_empty(), "a fresh ticket after resumption");
    });
}

/// Length of our sealed tickets bound to `b"interop"`.
const SEALED_TICKET_LEN: usize = milagro_tls::ticket::TICKET_LEN + b"interop".len();

/// Our server with the test PSK, issuing tickets.
fn ticket_server() -> ServerConfig {
    let store: StaticPskStore = [psk(IDENTITY, KEY_HEX)].into_iter().collect();
    let mut config = ServerConfig::new(Arc::new(store));
    config.options.tickets = Some(TicketSettings::new(
        Arc::new(TicketStore::default()),
        Duration::from_secs(600),
        Some(b"interop".to_vec()),
    ));
    config
}

/// `openssl s_client` sending one line (stdin stays open a moment so the
/// ticket arrives); returns its stdout.
fn s_client(port: u16, sess: &str, sess_flag: &str) -> String {
    let out = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "(echo hello; sleep 1) | timeout 15 openssl s_client -connect {LOOPBACK}:{port} \
             -tls1_3 -psk {KEY_HEX} -psk_identity {IDENTITY} {sess_flag} {sess}"
        ))
        .stdin(Stdio::null())
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn s_client_resumes_with_our_ticket() {
    require_tool("openssl");
    let (port, rx) = spawn_our_server(ticket_server()).unwrap();
    let dir = TempDir::new("resumption");
    let sess = dir.path("sess.pem");
    let sess = sess.to_str().unwrap();
    let out = s_client(port, sess, "-sess_out");
    assert!(out.contains("hello"), "{out}");
    let first = rx.recv_timeout(T).unwrap().unwrap();
    assert_eq!(first.psk_identity, IDENTITY.as_bytes());
    let out = s_client(port, sess, "-sess_in");
    assert!(out.contains("hello"), "{out}");
    let second = rx.recv_timeout(T).unwrap().unwrap();
    // the handshake was authenticated by our sealed ticket, not the external PSK
    assert_eq!(second.psk_identity.len(), SEALED_TICKET_LEN);
}

#[test]
fn stunnel_client_resumes_with_our_ticket() {
    require_tool("stunnel4");
    let (server_port, outcomes) = spawn_our_server(ticket_server()).unwrap();
    let dir = TempDir::new("stunnel-res");
    let secrets = dir.private("psk.txt", &format!("{IDENTITY}:{KEY_HEX}\n"));
    let port = free_port();
    let conf = dir
        .private(
            "stunnel.conf",
            &format!(
                "foreground = yes\npid =\n[cli]\nclient = yes\naccept = {LOOPBACK}:{port}\nconnect = {LOOPBACK}:{server_port}\nPSKsecrets = {}\nPSKidentity = {IDENTITY}\nsslVersionMin = TLSv1.3\n",
                secrets.display()
            ),
        );
    let mut cmd = Command::new("stunnel4");
    cmd.arg(conf);
    let _st = ProcessGuard::spawn_quiet(&mut cmd, "stunnel4").unwrap();
    wait_for_port(port, Duration::from_secs(10)).unwrap();
    for _ in 0..3 {
        let mut sock = std::net::TcpStream::connect((LOOPBACK, port)).unwrap();
        sock.set_read_timeout(Some(T)).unwrap();
        std::io::Write::write_all(&mut sock, b"hello\n").unwrap();
        let mut back = [0u8; 6];
        std::io::Read::read_exact(&mut sock, &mut back).unwrap();
        assert_eq!(&back, b"hello\n");
        // let stunnel read the ticket before the next connection
        std::thread::sleep(Duration::from_millis(200));
    }
    let mut identities = Vec::new();
    while let Ok(r) = outcomes.recv_timeout(Duration::from_secs(3)) {
        if let Ok(n) = r {
            identities.push(n.psk_identity);
        }
    }
    assert!(
        identities.iter().any(|id| id.len() == SEALED_TICKET_LEN),
        "stunnel never resumed: {identities:?}"
    );
}
