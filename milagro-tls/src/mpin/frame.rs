//! The frames that precede the TLS handshake in the M-Pin and P2P channels (byte layout:
//! `milagro-tls/PROTOCOL.md`).
//!
//! ```text
//! preface (client, once): "MPIN" ‖ version (0x01)
//! frame:                  type:u8 ‖ length:u24 ‖ body
//! ```

#[cfg(all(feature = "tokio", feature = "fuzzing"))]
// socket helpers for the frame-forging tests
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::MpinError;

/// The client's first bytes: `MPIN` and the protocol version.
pub const PREFACE: [u8; 5] = *b"MPIN\x01";

/// Largest frame body accepted (the longest M-Pin message, a one-pass hello; the P2P
/// messages are shorter).
pub const MAX_BODY: usize = mpin_kex::messages::MAX_ENCODED_LEN + super::importer::SESSION_ID_LEN;

/// Frame types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum FrameType {
    /// C→S multi-pass hello.
    Hello = 0x01,
    /// S→C session id and challenge.
    Challenge = 0x02,
    /// C→S response.
    Response = 0x03,
    /// C→S one-pass hello.
    OnePassHello = 0x04,
    /// S→C session id and one-pass reply.
    OnePassReply = 0x05,
    /// P2P channel, initiator→responder: the WCC hello (`crate::p2p`).
    P2pHello = 0x11,
    /// P2P channel, responder→initiator: the WCC reply (`crate::p2p`).
    P2pReply = 0x12,
    /// S→C authentication failed (empty body); the server closes.
    Failure = 0x7f,
}

impl FrameType {
    fn from_u8(v: u8) -> Option<Self> {
        Some(match v {
            0x01 => Self::Hello,
            0x02 => Self::Challenge,
            0x03 => Self::Response,
            0x04 => Self::OnePassHello,
            0x05 => Self::OnePassReply,
            0x11 => Self::P2pHello,
            0x12 => Self::P2pReply,
            0x7f => Self::Failure,
            _ => return None,
        })
    }
}

/// Encodes a frame.
pub fn encode(t: FrameType, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(4 + body.len());
    out.push(t as u8);
    let len = u32::try_from(body.len()).unwrap_or(u32::MAX).min(0xff_ffff);
    out.extend_from_slice(&len.to_be_bytes()[1..]);
    out.extend_from_slice(body);
    out
}

/// Parses a frame header: type and body length (bounded by [`MAX_BODY`]).
pub fn parse_header(h: [u8; 4]) -> Result<(FrameType, usize), MpinError> {
    let t = FrameType::from_u8(h[0]).ok_or(MpinError::Protocol("unknown frame type"))?;
    let len = usize::from(h[1]) << 16 | usize::from(h[2]) << 8 | usize::from(h[3]);
    if len > MAX_BODY {
        return Err(MpinError::Protocol("frame longer than allowed"));
    }
    Ok((t, len))
}

/// Takes one whole frame off the front of `buf` (the sans-IO connections' input), or `None`
/// while it is incomplete. A bad header fails as soon as its 4 bytes are there, so an
/// oversized frame is refused before its body is buffered.
pub(crate) fn take(buf: &mut Vec<u8>) -> Result<Option<(FrameType, Vec<u8>)>, MpinError> {
    let Some(&[a, b, c, d]) = buf.get(..4) else {
        return Ok(None);
    };
    let (t, len) = parse_header([a, b, c, d])?;
    if buf.len() < 4 + len {
        return Ok(None);
    }
    let body = buf[4..4 + len].to_vec();
    buf.drain(..4 + len);
    Ok(Some((t, body)))
}

/// Reads exactly one frame (never more bytes than the frame holds).
#[cfg(all(feature = "tokio", feature = "fuzzing"))] // socket helpers for the frame-forging tests
pub async fn read<IO: AsyncRead + Unpin>(io: &mut IO) -> Result<(FrameType, Vec<u8>), MpinError> {
    let mut h = [0u8; 4];
    io.read_exact(&mut h).await?;
    let (t, len) = parse_header(h)?;
    let mut body = vec![0u8; len];
    io.read_exact(&mut body).await?;
    Ok((t, body))
}

/// Reads a frame that must be of type `want` (a failure frame becomes [`MpinError::Refused`]).
#[cfg(all(feature = "tokio", feature = "fuzzing"))] // socket helpers for the frame-forging tests
pub async fn expect<IO: AsyncRead + Unpin>(
    io: &mut IO,
    want: FrameType,
) -> Result<Vec<u8>, MpinError> {
    match read(io).await? {
        (FrameType::Failure, _) => Err(MpinError::Refused),
        (t, body) if t == want => Ok(body),
        _ => Err(MpinError::Protocol("unexpected frame type")),
    }
}

/// Writes bytes and flushes.
#[cfg(all(feature = "tokio", feature = "fuzzing"))] // socket helpers for the frame-forging tests
pub async fn send<IO: AsyncWrite + Unpin>(io: &mut IO, bytes: &[u8]) -> Result<(), MpinError> {
    io.write_all(bytes).await?;
    io.flush().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_round_trip_and_bounds() {
        let f = encode(FrameType::Response, &[1, 2, 3]);
        assert_eq!(f, [0x03, 0, 0, 3, 1, 2, 3]);
        assert_eq!(
            parse_header([0x03, 0, 0, 3]).unwrap(),
            (FrameType::Response, 3)
        );
        assert!(matches!(
            parse_header([0x09, 0, 0, 0]),
            Err(MpinError::Protocol(_))
        ));
        assert!(matches!(
            parse_header([0x01, 0xff, 0xff, 0xff]),
            Err(MpinError::Protocol(_))
        ));
        let max = MAX_BODY as u32;
        let h = max.to_be_bytes();
        assert!(parse_header([0x04, h[1], h[2], h[3]]).is_ok());
        assert_eq!(MAX_BODY, 2464, "PROTOCOL.md states this bound");
        let h = (max + 1).to_be_bytes();
        assert!(parse_header([0x04, h[1], h[2], h[3]]).is_err());
    }

    #[test]
    fn take_waits_for_whole_frames_and_refuses_oversize_headers_early() {
        let f = encode(FrameType::Challenge, &[9; 5]);
        let mut buf = f[..6].to_vec();
        assert!(take(&mut buf).unwrap().is_none(), "incomplete body");
        buf.extend_from_slice(&f[6..]);
        buf.push(0x16);
        assert_eq!(
            take(&mut buf).unwrap(),
            Some((FrameType::Challenge, vec![9; 5]))
        );
        assert_eq!(buf, [0x16], "bytes after the frame stay");
        let mut huge = vec![0x01, 0xff, 0xff, 0xff];
        assert!(matches!(take(&mut huge), Err(MpinError::Protocol(_))));
    }
}
