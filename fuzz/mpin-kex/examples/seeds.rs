//! Writes a seed corpus into `corpus/<target>/`: valid messages, secrets and points, and
//! complete valid server runs (the server RNG is deterministic, so the response to its
//! challenge can be computed here). Run from fuzz/mpin-kex: `cargo run --example seeds`.

use std::fs;
use std::path::Path;

use mpin_kex::{
    policy, Client, ClientSecret, Credential, HashedId, MasterShare, Pin, Server, ServerSecret,
    TimePermit, Token,
};
use mpin_kex_fuzz::{
    context, master_shares, server_multipass_input, FixedRng, IDENTITY, NOW, SERVER_RNG_SEED,
};

type Res<T> = Result<T, Box<dyn std::error::Error>>;

fn write(target: &str, name: &str, bytes: &[u8]) -> Res<()> {
    let dir = Path::new("corpus").join(target);
    fs::create_dir_all(&dir)?;
    fs::write(dir.join(name), bytes)?;
    Ok(())
}

fn sel(s: u8, bytes: &[u8]) -> Vec<u8> {
    let mut v = vec![s];
    v.extend_from_slice(bytes);
    v
}

fn main() -> Res<()> {
    let dtas = master_shares();
    let today = policy::day_of(NOW);
    let id = HashedId::of(IDENTITY);
    let pin: Pin = "1234".parse()?;
    let cs_shares: Vec<_> = dtas.iter().map(|d| d.client_secret_share(&id)).collect();
    let cs = ClientSecret::combine(&cs_shares)?;
    let token = Token::extract(&cs, IDENTITY, &pin)?;
    let tp_shares = dtas
        .iter()
        .map(|d| d.time_permit_share(&id, today))
        .collect::<Result<Vec<_>, _>>()?;
    let permit = TimePermit::combine(&tp_shares)?;
    let ss_shares: Vec<_> = dtas.iter().map(MasterShare::server_secret_share).collect();
    let ss = ServerSecret::combine(&ss_shares)?;

    // secrets: selector = index in the target's match
    write("secrets", "master", &sel(0, &dtas[0].to_bytes()))?;
    write("secrets", "cs_share", &sel(1, &cs_shares[0].to_bytes()))?;
    write("secrets", "cs", &sel(2, &cs.to_bytes()))?;
    write("secrets", "token", &sel(3, &token.to_bytes()))?;
    write("secrets", "tp_share", &sel(4, &tp_shares[0].to_bytes()))?;
    write("secrets", "tp", &sel(5, &permit.to_bytes()))?;
    write("secrets", "ss_share", &sel(6, &ss_shares[0].to_bytes()))?;
    write("secrets", "ss", &sel(7, &ss.to_bytes()))?;
    write("secrets", "hashed_id", &sel(8, id.as_bytes()))?;
    write("secrets", "pin", &sel(9, b" 0042\n"))?;

    // points
    write("points", "g1", &sel(0, &token.to_bytes()))?;
    write("points", "g2", &sel(1, &ss.to_bytes()))?;

    let mut client_rng = FixedRng::new(1);
    for (name, p) in [("permit", Some(permit)), ("no_permit", None)] {
        let cred = Credential::new(IDENTITY, token.clone(), p)?;

        // multi-pass: the server target replays SERVER_RNG_SEED, so this run verifies there.
        let mut client = Client::new(&cred, pin.clone());
        let hello = client.hello(&mut client_rng)?;
        let mut server = Server::new(context().clone());
        let challenge = server.hello(&hello, NOW, &mut FixedRng::new(SERVER_RNG_SEED))?;
        let (response, _) = client.challenge(&challenge)?;
        server.response(&response, NOW)?;
        let (h, r) = (hello.encode(), response.encode());
        write(
            "server",
            &format!("multipass_{name}"),
            &server_multipass_input(&h, &r),
        )?;
        write("messages", &format!("hello_{name}"), &sel(0, &h))?;
        write("messages", "challenge", &sel(1, &challenge.encode()))?;
        write("messages", "response", &sel(2, &r))?;

        // the same hello with a wrong response: a failed proof (PIN-error path)
        let mut client = Client::new(&cred, "1243".parse()?);
        let hello = client.hello(&mut client_rng)?;
        let challenge = Server::new(context().clone()).hello(
            &hello,
            NOW,
            &mut FixedRng::new(SERVER_RNG_SEED),
        )?;
        let (response, _) = client.challenge(&challenge)?;
        write(
            "server",
            &format!("multipass_bad_pin_{name}"),
            &server_multipass_input(&hello.encode(), &response.encode()),
        )?;

        // one-pass
        let mut client = Client::new(&cred, pin.clone());
        let hello = client.one_pass_hello(NOW, b"server.example", &mut client_rng)?;
        let (reply, _) =
            Server::new(context().clone()).one_pass(&hello, NOW, &mut FixedRng::new(0))?;
        write(
            "server",
            &format!("one_pass_{name}"),
            &sel(1, &hello.encode()),
        )?;
        write(
            "messages",
            &format!("one_pass_hello_{name}"),
            &sel(3, &hello.encode()),
        )?;
        write("messages", "one_pass_reply", &sel(4, &reply.encode()))?;
    }
    // wcc: the target's initiator draws x from FixedRng(SERVER_RNG_SEED), so this reply is
    // valid for it (mode 3) and this hello is a valid responder input (mode 2).
    {
        use mpin_kex::wcc::Initiator;
        use mpin_kex_fuzz::wcc::{alice_key, responder, ALICE, BOB};
        let mut a = Initiator::new(ALICE, alice_key(), None, BOB)?;
        let hello = a.hello(&mut FixedRng::new(SERVER_RNG_SEED))?;
        let (reply, bob) = responder().respond(&hello, &mut FixedRng::new(1))?;
        let mut replay = Initiator::new(ALICE, alice_key(), None, BOB)?;
        replay.hello(&mut FixedRng::new(SERVER_RNG_SEED))?;
        if replay.reply(&reply)?.key != bob.key {
            return Err("wcc seed: the replayed initiator does not agree".into());
        }
        write("wcc", "hello", &sel(0, &hello.encode()))?;
        write("wcc", "reply", &sel(1, &reply.encode()))?;
        write("wcc", "responder_run", &sel(2, &hello.encode()))?;
        write("wcc", "initiator_run", &sel(3, &reply.encode()))?;
    }
    println!("seed corpus written to corpus/");
    Ok(())
}
