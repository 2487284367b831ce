//! Mirrors: the ordered endpoints of one origin (the primary first), and the one rule that says,
//! after an endpoint failed, whether the next one is worth trying ([`next_may_help`]).
//!
//! The rule is the same for everything fetched through mirrors (a file, a listing): go on when
//! *this server* failed us — it is down, slow, refuses, does not have the file, or gives up after
//! its retries — and stop when no other server can help or when we must not look for one that
//! agrees: the local disk is full or a file cannot be written or locked, or what a server sent
//! failed a check (bytes that do not match their digest, a value wharf does not trust). Stopping
//! keeps that error, which names the server, instead of hiding it behind the next mirror's.
//!
//! An origin (the Hugging Face hub today; S3 next) is a type of endpoint: [`Mirrors`] is generic
//! over it, so a new origin brings its endpoint type and uses the same [`Mirrors::try_each`].

use std::future::Future;

use crate::transfer::FetchError;

/// The endpoints of one origin, in the order they are tried.
#[derive(Debug, Clone)]
pub struct Mirrors<E> {
    endpoints: Vec<E>,
}

impl<E> Mirrors<E> {
    /// The primary endpoint first, then its mirrors.
    pub fn new(endpoints: Vec<E>) -> Mirrors<E> {
        Mirrors { endpoints }
    }

    /// The primary endpoint (the one a token is for), if there is any.
    pub fn primary(&self) -> Option<&E> {
        self.endpoints.first()
    }

    /// Ask each endpoint in order until one answers; after a failure go on only when
    /// [`next_may_help`] says so. With no endpoint at all, `what` is reported as not to be had
    /// (offline).
    pub async fn try_each<'a, T, F, Fut>(&'a self, what: &str, mut ask: F) -> Result<T, FetchError>
    where
        F: FnMut(&'a E) -> Fut,
        Fut: Future<Output = Result<T, FetchError>>,
    {
        let mut last = None;
        for endpoint in &self.endpoints {
            match ask(endpoint).await {
                Ok(t) => return Ok(t),
                Err(e) if !next_may_help(&e) => return Err(e),
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| FetchError::Offline { what: what.to_string() }))
    }
}

/// The one try-next rule (see the module doc): after `e` from one endpoint, may the next help?
/// Every kind of error is named, so a new one must be decided here.
pub fn next_may_help(e: &FetchError) -> bool {
    match e {
        // This server failed us; another may not.
        FetchError::NotFound { .. }
        | FetchError::Http { .. }
        | FetchError::GaveUp { .. }
        | FetchError::Protocol { .. }
        | FetchError::Offline { .. }
        | FetchError::Remote { .. }
        | FetchError::Source(_) => true,
        // What a server sent failed a check: say so, do not look for a server that agrees.
        FetchError::ChecksumMismatch { .. } | FetchError::Untrusted { .. } => false,
        // This machine, or the request itself: the same everywhere.
        FetchError::DiskFull { .. }
        | FetchError::Fs(_)
        | FetchError::Lock(_)
        | FetchError::NotAFile { .. }
        | FetchError::Worker { .. }
        | FetchError::BadGlob { .. } => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run<T>(f: impl Future<Output = T>) -> T {
        tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(f)
    }

    #[test]
    fn a_failing_server_passes_to_the_next_a_failed_check_stops() {
        let mirrors = Mirrors::new(vec![0, 1, 2]);
        let asked = std::sync::Mutex::new(Vec::new());
        let got = run(mirrors.try_each("x", |&i| {
            asked.lock().unwrap().push(i);
            async move {
                if i < 2 {
                    Err(FetchError::NotFound { url: format!("{i}"), hint: "" })
                } else {
                    Ok(i)
                }
            }
        }));
        assert_eq!(got.unwrap(), 2);
        assert_eq!(*asked.lock().unwrap(), [0, 1, 2]);

        asked.lock().unwrap().clear();
        let got = run(mirrors.try_each("x", |&i| {
            asked.lock().unwrap().push(i);
            async move {
                Err::<(), _>(FetchError::ChecksumMismatch {
                    what: "x".into(),
                    expected: "a".into(),
                    actual: "b".into(),
                })
            }
        }));
        assert!(matches!(got, Err(FetchError::ChecksumMismatch { .. })));
        assert_eq!(*asked.lock().unwrap(), [0], "the first failed check stops");

        let none: Mirrors<u8> = Mirrors::new(Vec::new());
        assert!(matches!(run(none.try_each("x", |_| async { Ok(()) })), Err(FetchError::Offline { .. })));
    }
}
