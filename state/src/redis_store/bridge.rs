//! The bridge from the synchronous store traits (called from any thread, async or not) to the
//! async Redis client: a background thread owns a single-threaded tokio runtime and the one
//! multiplexed [`ConnectionManager`]; a call spawns its request there and waits for the answer
//! on a std channel with a timeout, so it never calls `block_on` from an async context.

use std::future::Future;
use std::sync::mpsc;
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::RedisResult;
use tokio::sync::{oneshot, OnceCell};

/// Why a call did not get an answer.
#[derive(Debug)]
pub(crate) enum CallError {
    /// Redis answered with an error or the connection failed.
    Redis(redis::RedisError),
    /// No answer within the call timeout.
    Timeout,
    /// The background runtime is gone.
    Stopped,
}

impl std::fmt::Display for CallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Redis(e) => write!(f, "{e}"),
            Self::Timeout => f.write_str("no answer within the call timeout"),
            Self::Stopped => f.write_str("the Redis client thread stopped"),
        }
    }
}

/// The background runtime and the lazily opened connection.
pub(crate) struct Bridge {
    handle: tokio::runtime::Handle,
    conn: std::sync::Arc<OnceCell<ConnectionManager>>,
    client: redis::Client,
    config: ConnectionManagerConfig,
    timeout: Duration,
    /// Dropping it ends the runtime thread (which drops the runtime outside any async context).
    _stop: oneshot::Sender<()>,
}

impl std::fmt::Debug for Bridge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bridge")
            .field("connected", &self.conn.initialized())
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl Bridge {
    /// Starts the runtime thread. The connection opens on the first call (and again on a later
    /// call if that fails), so a server may start while Redis is down.
    pub(crate) fn start(client: redis::Client, timeout: Duration) -> std::io::Result<Self> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let handle = rt.handle().clone();
        let (stop, stopped) = oneshot::channel::<()>();
        std::thread::Builder::new()
            .name("milagro-state-redis".to_owned())
            .spawn(move || {
                rt.block_on(async {
                    let _ = stopped.await;
                });
            })?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(timeout)
            .set_response_timeout(timeout)
            .set_number_of_retries(1)
            .set_max_delay(100);
        Ok(Self {
            handle,
            conn: std::sync::Arc::new(OnceCell::new()),
            client,
            config,
            timeout,
            _stop: stop,
        })
    }

    /// Runs `op` on the connection in the background runtime and waits at most the call
    /// timeout for its answer.
    pub(crate) fn call<T, F, Fut>(&self, op: F) -> Result<T, CallError>
    where
        T: Send + 'static,
        F: FnOnce(ConnectionManager) -> Fut + Send + 'static,
        Fut: Future<Output = RedisResult<T>> + Send,
    {
        let (tx, rx) = mpsc::sync_channel(1);
        let conn = self.conn.clone();
        let client = self.client.clone();
        let config = self.config.clone();
        let timeout = self.timeout;
        self.handle.spawn(async move {
            let work = async {
                let cm = conn
                    .get_or_try_init(|| ConnectionManager::new_with_config(client, config))
                    .await?
                    .clone();
                op(cm).await
            };
            let answer = match tokio::time::timeout(timeout, work).await {
                Ok(Ok(v)) => Ok(v),
                Ok(Err(e)) => Err(CallError::Redis(e)),
                Err(_) => Err(CallError::Timeout),
            };
            let _ = tx.send(answer);
        });
        // a little slack over the task's own timeout, so its answer wins when it has one
        match rx.recv_timeout(timeout + Duration::from_millis(50)) {
            Ok(answer) => answer,
            Err(mpsc::RecvTimeoutError::Timeout) => Err(CallError::Timeout),
            Err(mpsc::RecvTimeoutError::Disconnected) => Err(CallError::Stopped),
        }
    }
}
