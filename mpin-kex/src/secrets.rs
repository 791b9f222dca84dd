//! Master shares, the shares D-TAs issue, their combinations, and PIN extraction
//! (MPIN-SPEC §2).
//!
//! Byte formats (all big-endian, fixed width):
//!
//! | type | bytes |
//! |---|---|
//! | [`MasterShare`] | 48-byte scalar `< q` |
//! | [`ClientSecretShare`], [`ClientSecret`], [`Token`] | 97-byte G1 point `04 ‖ X ‖ Y` |
//! | [`TimePermitShare`], [`TimePermit`] | 4-byte day number ‖ 97-byte G1 point |
//! | [`ServerSecretShare`], [`ServerSecret`] | 192-byte G2 point `X.re ‖ X.im ‖ Y.re ‖ Y.im` |
//!
//! Every type zeroizes its bytes on drop and prints `<redacted>` in `Debug`. Decoding validates
//! the point fully (canonical, on curve, in the subgroup, not the identity).

use core::fmt;

use miracl_core::bls12381::ecp::ECP;
use miracl_core::bls12381::ecp2::ECP2;
use rand_core::{CryptoRng, RngCore};
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::curve::{
    big_to_bytes, g1_decode, g1_decode_on_curve, g1_mul_secret, g1_to_bytes, g2_decode, g2_mul,
    g2_to_bytes, q_generator, random_scalar, scalar_canonical, G1_LEN, G2_LEN, MB,
};
use crate::error::{DecodeError, SecretError};
use crate::identity::{Active, HashedId, IdentityProfile};
use crate::pin::{Pin, PIN_BITS};

fn point_err(field: &'static str) -> impl Fn(crate::error::PointError) -> DecodeError {
    move |source| DecodeError::Point { field, source }
}

/// Sums points, refusing an empty list and an identity result.
fn sum_g1<'a>(points: impl Iterator<Item = &'a [u8; G1_LEN]>) -> Result<ECP, SecretError> {
    let mut acc: Option<ECP> = None;
    for b in points {
        let p = g1_decode_on_curve(b).map_err(point_err("share"))?;
        match acc.as_mut() {
            Some(a) => a.add(&p),
            None => acc = Some(p),
        }
    }
    let acc = acc.ok_or(SecretError::NoShares)?;
    if acc.is_infinity() {
        return Err(SecretError::Degenerate);
    }
    Ok(acc)
}

macro_rules! g1_secret {
    ($(#[$doc:meta])* $name:ident, $field:literal) => {
        $(#[$doc])*
        #[derive(Clone, Zeroize, ZeroizeOnDrop)]
        pub struct $name {
            bytes: [u8; G1_LEN],
        }

        impl $name {
            /// Length of the encoding.
            pub const LEN: usize = G1_LEN;

            /// Decodes and fully validates the 97-byte encoding.
            pub fn from_bytes(bytes: &[u8]) -> Result<Self, DecodeError> {
                let p = g1_decode(bytes).map_err(point_err($field))?;
                Ok(Self::from_point(&p))
            }

            /// The 97-byte encoding. Treat it as secret.
            pub fn to_bytes(&self) -> Zeroizing<Vec<u8>> {
                Zeroizing::new(self.bytes.to_vec())
            }

            pub(crate) fn from_point(p: &ECP) -> Self {
                Self { bytes: g1_to_bytes(p) }
            }

            /// The point; the bytes were validated when this value was built.
            #[allow(dead_code)]
            pub(crate) fn point(&self) -> ECP {
                g1_decode_on_curve(&self.bytes).unwrap_or_else(|_| ECP::new())
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(concat!(stringify!($name), "(<redacted>)"))
            }
        }
    };
}

g1_secret!(
    /// One D-TA's share `s_i·A` of a client secret.
    ClientSecretShare,
    "client-secret share"
);
g1_secret!(
    /// The client secret `CS = s·A`: the sum of every D-TA's share. Never stored: extract the
    /// PIN into a [`Token`] and drop it.
    ClientSecret,
    "client secret"
);
g1_secret!(
    /// The stored, PIN-less token `TOKEN = CS − PIN·A`.
    Token,
    "token"
);

impl ClientSecret {
    /// Combines the shares of all D-TAs (any order; at least one).
    pub fn combine(shares: &[ClientSecretShare]) -> Result<Self, SecretError> {
        Ok(Self::from_point(&sum_g1(shares.iter().map(|s| &s.bytes))?))
    }
}

impl Token {
    /// Extracts the PIN: `TOKEN = CS − PIN·A` (fixed 14-bit ladder, constant time in the PIN).
    pub fn extract(secret: &ClientSecret, identity: &[u8], pin: &Pin) -> Result<Self, SecretError> {
        let a = Active::identity_point(&HashedId::of(identity));
        let mut t = secret.point();
        t.sub(&a.pinmul(pin.value(), PIN_BITS));
        if t.is_infinity() {
            return Err(SecretError::Degenerate);
        }
        Ok(Self::from_point(&t))
    }
}

macro_rules! permit_type {
    ($(#[$doc:meta])* $name:ident, $field:literal) => {
        $(#[$doc])*
        #[derive(Clone, Zeroize, ZeroizeOnDrop)]
        pub struct $name {
            day: u32,
            bytes: [u8; G1_LEN],
        }

        impl $name {
            /// Length of the encoding: day (4 bytes) and point (97 bytes).
            pub const LEN: usize = 4 + G1_LEN;

            /// The day number (days since 1970-01-01 UTC) this permit is for.
            pub fn day(&self) -> u32 {
                self.day
            }

            /// Decodes and validates `be32(day) ‖ point`.
            pub fn from_bytes(bytes: &[u8]) -> Result<Self, DecodeError> {
                if bytes.len() != Self::LEN {
                    return Err(DecodeError::Point {
                        field: $field,
                        source: crate::error::PointError::Length,
                    });
                }
                let day = u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
                if day == 0 {
                    return Err(DecodeError::Invalid { field: $field, why: "day 0" });
                }
                let p = g1_decode(&bytes[4..]).map_err(point_err($field))?;
                Ok(Self::from_point(day, &p))
            }

            /// The encoding `be32(day) ‖ point`.
            pub fn to_bytes(&self) -> Zeroizing<Vec<u8>> {
                let mut v = Vec::with_capacity(Self::LEN);
                v.extend_from_slice(&self.day.to_be_bytes());
                v.extend_from_slice(&self.bytes);
                Zeroizing::new(v)
            }

            pub(crate) fn from_point(day: u32, p: &ECP) -> Self {
                Self { day, bytes: g1_to_bytes(p) }
            }

            #[allow(dead_code)]
            pub(crate) fn point(&self) -> ECP {
                g1_decode_on_curve(&self.bytes).unwrap_or_else(|_| ECP::new())
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!(stringify!($name), "(day {}, <redacted>)"), self.day)
            }
        }
    };
}

permit_type!(
    /// One D-TA's share `s_i·A_T(d)` of a time permit.
    TimePermitShare,
    "time-permit share"
);
permit_type!(
    /// A time permit `TP = s·A_T(d)` for one day: the sum of every D-TA's share. Useless to
    /// anybody but its identity; revocation = no more permits.
    TimePermit,
    "time permit"
);

impl TimePermit {
    /// Combines the permit shares of all D-TAs for one day.
    pub fn combine(shares: &[TimePermitShare]) -> Result<Self, SecretError> {
        let day = shares.first().ok_or(SecretError::NoShares)?.day;
        if let Some(other) = shares.iter().find(|s| s.day != day) {
            return Err(SecretError::MixedDays(day, other.day));
        }
        Ok(Self::from_point(
            day,
            &sum_g1(shares.iter().map(|s| &s.bytes))?,
        ))
    }
}

macro_rules! g2_secret {
    ($(#[$doc:meta])* $name:ident, $field:literal) => {
        $(#[$doc])*
        #[derive(Clone, Zeroize, ZeroizeOnDrop)]
        pub struct $name {
            bytes: [u8; G2_LEN],
        }

        impl $name {
            /// Length of the encoding.
            pub const LEN: usize = G2_LEN;

            /// Decodes and validates the 192-byte legacy G2 encoding.
            pub fn from_bytes(bytes: &[u8]) -> Result<Self, DecodeError> {
                let p = g2_decode(bytes).map_err(point_err($field))?;
                Ok(Self::from_point(&p))
            }

            /// The 192-byte encoding. Treat it as secret.
            pub fn to_bytes(&self) -> Zeroizing<Vec<u8>> {
                Zeroizing::new(self.bytes.to_vec())
            }

            pub(crate) fn from_point(p: &ECP2) -> Self {
                Self { bytes: g2_to_bytes(p) }
            }

            pub(crate) fn point(&self) -> Result<ECP2, DecodeError> {
                g2_decode(&self.bytes).map_err(point_err($field))
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(concat!(stringify!($name), "(<redacted>)"))
            }
        }
    };
}

g2_secret!(
    /// One D-TA's share `s_i·Q` of a server secret.
    ServerSecretShare,
    "server-secret share"
);
g2_secret!(
    /// The server secret `SS = s·Q`. With a user's token it allows an offline PIN search:
    /// protect it like a password database.
    ServerSecret,
    "server secret"
);

impl ServerSecret {
    /// Combines the shares of all D-TAs (any order; at least one).
    pub fn combine(shares: &[ServerSecretShare]) -> Result<Self, SecretError> {
        let mut acc: Option<ECP2> = None;
        for s in shares {
            let p = s.point()?;
            match acc.as_mut() {
                Some(a) => {
                    a.add(&p);
                }
                None => acc = Some(p),
            }
        }
        let acc = acc.ok_or(SecretError::NoShares)?;
        if acc.is_infinity() {
            return Err(SecretError::Degenerate);
        }
        Ok(Self::from_point(&acc))
    }
}

/// One D-TA's master-secret share `s_i` (uniform in `[1, q)`).
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct MasterShare {
    bytes: [u8; MB],
}

impl MasterShare {
    /// Length of the encoding.
    pub const LEN: usize = MB;

    /// Draws a fresh share.
    pub fn generate<R: RngCore + CryptoRng>(rng: &mut R) -> Self {
        Self {
            bytes: big_to_bytes(&random_scalar(rng)),
        }
    }

    /// Reads a 48-byte big-endian scalar; must be below the group order and non-zero.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, DecodeError> {
        let s = scalar_canonical(bytes).map_err(point_err("master share"))?;
        if s.iszilch() {
            return Err(DecodeError::Invalid {
                field: "master share",
                why: "zero",
            });
        }
        Ok(Self {
            bytes: big_to_bytes(&s),
        })
    }

    /// The 48-byte encoding. Treat it as secret.
    pub fn to_bytes(&self) -> Zeroizing<Vec<u8>> {
        Zeroizing::new(self.bytes.to_vec())
    }

    fn scalar(&self) -> miracl_core::bls12381::big::BIG {
        crate::curve::big_from(&self.bytes)
    }

    /// The client-secret share `s_i·A` for a hashed identity.
    pub fn client_secret_share(&self, id: &HashedId) -> ClientSecretShare {
        ClientSecretShare::from_point(&g1_mul_secret(&Active::identity_point(id), &self.scalar()))
    }

    /// The time-permit share `s_i·A_T(d)` for a hashed identity and day (`day > 0`).
    pub fn time_permit_share(
        &self,
        id: &HashedId,
        day: u32,
    ) -> Result<TimePermitShare, SecretError> {
        if day == 0 {
            return Err(SecretError::DayZero);
        }
        let p = g1_mul_secret(&Active::permit_point(id, day), &self.scalar());
        Ok(TimePermitShare::from_point(day, &p))
    }

    /// The server-secret share `s_i·Q`.
    pub fn server_secret_share(&self) -> ServerSecretShare {
        ServerSecretShare::from_point(&g2_mul(&q_generator(), &self.scalar()))
    }
}

impl fmt::Debug for MasterShare {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MasterShare(<redacted>)")
    }
}
