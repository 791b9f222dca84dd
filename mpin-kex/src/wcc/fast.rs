//! G2 values on the blst backend for the WCC hot path: the G2 multiplications by secret
//! scalars (`y·B'`, `(y+πb)·SB'`) and by public ones (`πb·B'`) run here, constant time in the
//! scalar (`blst_p2_mult`), instead of miracl_core's `g2mul`. Points cross from miracl_core
//! (legacy maps, validated keys and messages) with blst's on-curve check.

use blstrs::{G2Affine, G2Prepared, G2Projective};
use group::prime::PrimeCurveAffine;
use group::Curve;
use miracl_core::bls12381::big::BIG;
use miracl_core::bls12381::ecp2::ECP2;

use crate::backend;
use crate::curve::{g2_to_bytes, G2_LEN};
use crate::error::PointError;

/// A G2 point on blst (validated on the miracl side or computed from validated points).
#[derive(Clone, Debug)]
pub(crate) struct G2(G2Projective);

impl G2 {
    /// A miracl_core point (not infinity) as a blst point.
    pub fn from_miracl(p: &ECP2) -> Result<Self, PointError> {
        if p.is_infinity() {
            return Err(PointError::Identity);
        }
        let zcash = backend::g2_legacy_to_zcash(&g2_to_bytes(p));
        Option::<G2Affine>::from(G2Affine::from_uncompressed_unchecked(&zcash))
            .map(|a| Self(a.into()))
            .ok_or(PointError::NotOnCurve)
    }

    /// `k·self` (k reduced mod q; constant time in k).
    pub fn mul(&self, k: &BIG) -> Self {
        Self(self.0 * backend::scalar(k))
    }

    /// `self + o`.
    pub fn add(&self, o: &Self) -> Self {
        Self(self.0 + o.0)
    }

    /// Whether this is the point at infinity.
    pub fn is_infinity(&self) -> bool {
        bool::from(self.0.to_affine().is_identity())
    }

    /// The legacy encoding `X.re ‖ X.im ‖ Y.re ‖ Y.im` (the caller guarantees not infinity).
    pub fn to_bytes(&self) -> [u8; G2_LEN] {
        backend::g2_legacy_to_zcash(&self.0.to_affine().to_uncompressed())
    }

    /// The prepared Miller-loop lines.
    pub fn prepared(&self) -> G2Prepared {
        G2Prepared::from(self.0.to_affine())
    }
}
