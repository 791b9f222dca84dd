//! Secrets never print and are zeroized on drop.

mod common;

use common::*;
use mpin_kex::*;
use zeroize::ZeroizeOnDrop;

fn zeroized_on_drop<T: ZeroizeOnDrop>() {}

#[test]
fn every_secret_type_zeroizes_on_drop() {
    zeroized_on_drop::<MasterShare>();
    zeroized_on_drop::<ClientSecretShare>();
    zeroized_on_drop::<ClientSecret>();
    zeroized_on_drop::<Token>();
    zeroized_on_drop::<TimePermitShare>();
    zeroized_on_drop::<TimePermit>();
    zeroized_on_drop::<ServerSecretShare>();
    zeroized_on_drop::<ServerSecret>();
    zeroized_on_drop::<SessionKey>();
    zeroized_on_drop::<Pin>();
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// No `Debug` output contains the secret bytes, in hex or as a decimal byte list.
fn assert_hidden(debug: String, secret: &[u8]) {
    let h = hex(&secret[secret.len() - 16..]);
    assert!(!debug.to_lowercase().contains(&h), "{debug}");
    let list = format!("{:?}", &secret[secret.len() - 8..]);
    let list = &list[1..list.len() - 1];
    assert!(!debug.contains(list), "{debug}");
    assert!(debug.contains("redacted"), "{debug}");
}

#[test]
fn debug_never_prints_secrets() {
    let w = MpinWorld::new(2);
    let id = HashedId::of(ID);
    let m = &w.dtas[0];
    assert_hidden(format!("{m:?}"), &m.to_bytes());
    let cs = m.client_secret_share(&id);
    assert_hidden(format!("{cs:?}"), &cs.to_bytes());
    let c = w.client_secret(ID);
    assert_hidden(format!("{c:?}"), &c.to_bytes());
    let t = Token::extract(&c, ID, &Pin::new(1).unwrap()).unwrap();
    assert_hidden(format!("{t:?}"), &t.to_bytes());
    let p = w.permit(ID, today());
    assert_hidden(format!("{p:?}"), &p.to_bytes());
    let ss = w.ss.clone();
    assert_hidden(format!("{ss:?}"), &ss.to_bytes());
    assert_hidden(
        format!("{:?}", m.server_secret_share()),
        &m.server_secret_share().to_bytes(),
    );
    let cred = w.credential(ID, 1, Some(today()));
    let ctx = w.context(ServerPolicy::default());
    let (s, _) = multi_pass(&cred, 1, &ctx, NOW).unwrap();
    assert_hidden(format!("{s:?}"), s.key.as_bytes());
    assert_hidden(format!("{:?}", s.key), s.key.as_bytes());
    assert!(!format!("{cred:?}").contains(&hex(&t.to_bytes()[81..])));
    assert!(!format!("{:?}", Pin::new(4711).unwrap()).contains("4711"));
}
