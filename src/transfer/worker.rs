//! Blocking file and lock work from async code, run one way: on tokio's blocking pool, with one
//! error ([`FetchError::Worker`]) when the worker dies (it panicked, or the runtime is shutting
//! down). Async code never does file or lock work directly.

use std::future::Future;

use super::FetchError;

/// Run `f` on a blocking thread and return what it returns.
pub async fn blocking<T, E>(f: impl FnOnce() -> Result<T, E> + Send + 'static) -> Result<T, E>
where
    T: Send + 'static,
    E: From<FetchError> + Send + 'static,
{
    started(f).await
}

/// Start `f` on a blocking thread now; the returned future gives what it returns (work that
/// overlaps other work, awaited later).
pub fn started<T, E>(f: impl FnOnce() -> Result<T, E> + Send + 'static) -> impl Future<Output = Result<T, E>>
where
    T: Send + 'static,
    E: From<FetchError> + Send + 'static,
{
    let handle = tokio::task::spawn_blocking(f);
    async move {
        match handle.await {
            Ok(done) => done,
            Err(e) => Err(FetchError::Worker { why: e.to_string() }.into()),
        }
    }
}
