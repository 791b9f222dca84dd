//! The [`Handshake`](super::job::Handshake) plumbing the four sans-IO connections (M-Pin and
//! P2P, client and server) share: where peer bytes go, how queued output is drained, the
//! step loop, the job-id check, the servers' refusal latch and the end-of-file error.

use super::frame::{self, FrameType};
use super::job::{JobOutput, Status};
use super::MpinError;
use crate::conn::ConnectionCommon;

/// Feeds peer bytes to the TLS connection when the state holds one, else buffers them in
/// `input` for the pre-TLS frames.
pub(crate) fn feed(tls: Option<&mut ConnectionCommon>, input: &mut Vec<u8>, bytes: &[u8]) {
    match tls {
        Some(conn) => conn.read_tls(bytes),
        None => input.extend_from_slice(bytes),
    }
}

/// Appends what the TLS connection (if any) has to send to `output`, then takes it all.
pub(crate) fn drain(tls: Option<&mut ConnectionCommon>, output: &mut Vec<u8>) -> Vec<u8> {
    if let Some(conn) = tls {
        output.extend_from_slice(&conn.take_tls());
    }
    std::mem::take(output)
}

/// Runs `step` until it reports a [`Status`]; on an error calls `fail` (which moves the
/// connection to its final state) and returns the error.
pub(crate) fn run<C>(
    conn: &mut C,
    step: impl Fn(&mut C) -> Result<Option<Status>, MpinError>,
    fail: impl FnOnce(&mut C),
) -> Result<Status, MpinError> {
    loop {
        match step(conn) {
            Ok(Some(status)) => return Ok(status),
            Ok(None) => {}
            Err(e) => {
                fail(conn);
                return Err(e);
            }
        }
    }
}

/// The result of the job `computing` (the id of the job the connection waits for, if any);
/// an output of another job, or of another kind, is refused.
pub(crate) fn take_job<T: 'static>(
    output: JobOutput,
    computing: Option<u64>,
) -> Result<T, MpinError> {
    output.take(computing).map_err(|(_, e)| e)
}

/// A server's refusal: queues the one generic failure frame, once (`refused` latches).
pub(crate) fn refuse(refused: &mut bool, output: &mut Vec<u8>) {
    if !*refused {
        *refused = true;
        output.extend_from_slice(&frame::encode(FrameType::Failure, &[]));
    }
}

/// The error for a peer that closed before the handshake finished: a TLS error once the TLS
/// handshake had begun, else an I/O one.
pub(crate) fn eof_error(in_tls: bool) -> MpinError {
    if in_tls {
        MpinError::Tls(crate::Error::UnexpectedEof)
    } else {
        MpinError::Io(std::io::ErrorKind::UnexpectedEof.into())
    }
}
