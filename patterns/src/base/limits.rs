//! SNDTIMEO and RCVTIMEO: a wait for a socket condition, with a limit.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use glommio::timer::Timer;

use super::SocketBase;
use crate::error::{Error, Result};

impl SocketBase {
    /// Makes `attempt` until it is done (`Some`) or fails, waiting for room in a
    /// peer's queue (SNDHWM) between attempts, for at most `limit` (see [`bounded`]).
    pub(crate) async fn until_room<T>(
        &self,
        limit: Option<Duration>,
        mut attempt: impl FnMut() -> Result<Option<T>>,
    ) -> Result<T> {
        bounded(limit, |cx| match attempt() {
            Ok(Some(done)) => Poll::Ready(Ok(done)),
            Ok(None) => {
                self.send_room.register(cx.waker());
                Poll::Pending
            }
            Err(e) => Poll::Ready(Err(e)),
        })
        .await
    }
}

/// Polls `poll` until it is ready, for at most `limit` (`None`: no limit), then
/// fails with [`Error::Timeout`]. A zero limit gives `poll` one try. The timer is
/// made only when the first try finds nothing, so a socket whose messages or room
/// are there at once never touches glommio's timer wheel.
pub(crate) async fn bounded<T>(
    limit: Option<Duration>,
    mut poll: impl FnMut(&mut Context<'_>) -> Poll<Result<T>>,
) -> Result<T> {
    let Some(limit) = limit else {
        return std::future::poll_fn(poll).await;
    };
    let mut timer: Option<Timer> = None;
    std::future::poll_fn(move |cx| {
        if let Poll::Ready(done) = poll(cx) {
            return Poll::Ready(done);
        }
        if limit.is_zero() {
            return Poll::Ready(Err(Error::Timeout));
        }
        let timer = timer.get_or_insert_with(|| Timer::new(limit));
        match Pin::new(timer).poll(cx) {
            Poll::Ready(_) => Poll::Ready(Err(Error::Timeout)),
            Poll::Pending => Poll::Pending,
        }
    })
    .await
}
