//! Request and response bodies of the connection loop: the request body's read timeout (a
//! stall answers 408 `request_timeout`) and the response body that keeps its request counted
//! in flight until it has been sent.

use super::InFlight;
use crate::error::ApiError;
use axum::body::Bytes;
use axum::http::{HeaderValue, Response, header};
use axum::response::IntoResponse;
use hyper::body::{Body, Frame, SizeHint};
use idv_core::ErrorCode;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::time::{Instant, Sleep};

/// The 408 answer for a body that stalled, keeping the request id of the original answer. The
/// connection closes after it: the rest of the body may still come.
pub(super) fn request_timeout(
    original: &Response<axum::body::Body>,
    pause: Duration,
) -> axum::response::Response {
    let mut response = ApiError::new(
        ErrorCode::RequestTimeout,
        format!(
            "the request body paused for more than {} s (services.api.bodyReadTimeout); send it without stalling",
            pause.as_secs()
        ),
    )
    .into_response();
    if let Some(id) = original.headers().get("x-request-id") {
        response.headers_mut().insert("x-request-id", id.clone());
    }
    response
        .headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}

/// The request body read failed because the client paused too long.
#[derive(Debug, thiserror::Error)]
#[error("no request body bytes arrived for {} s (services.api.bodyReadTimeout)", .0.as_secs())]
pub struct BodyReadTimeout(Duration);

/// A request body that fails with [`BodyReadTimeout`] when the client sends nothing for
/// `pause` while the server waits for it (time the handler spends elsewhere does not count).
pub(super) struct BodyTimeout<B> {
    inner: B,
    pause: Duration,
    timer: Option<Pin<Box<Sleep>>>,
    armed: bool,
    timed_out: Arc<AtomicBool>,
}

impl<B> BodyTimeout<B> {
    pub(super) fn new(inner: B, pause: Duration, timed_out: Arc<AtomicBool>) -> Self {
        BodyTimeout {
            inner,
            pause,
            timer: None,
            armed: false,
            timed_out,
        }
    }
}

impl<B> Body for BodyTimeout<B>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: Into<axum::BoxError>,
{
    type Data = Bytes;
    type Error = axum::BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(frame) => {
                this.armed = false;
                Poll::Ready(frame.map(|f| f.map_err(Into::into)))
            }
            Poll::Pending => {
                let deadline = Instant::now() + this.pause;
                let timer = this
                    .timer
                    .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
                if !this.armed {
                    timer.as_mut().reset(deadline);
                    this.armed = true;
                }
                if timer.as_mut().poll(cx).is_ready() {
                    this.armed = false;
                    this.timed_out.store(true, Ordering::Release);
                    return Poll::Ready(Some(Err(Box::new(BodyReadTimeout(this.pause)))));
                }
                Poll::Pending
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// A response body that keeps its request counted in flight until it is done.
pub struct InFlightBody {
    inner: axum::body::Body,
    in_flight: Option<InFlight>,
}

impl InFlightBody {
    pub(super) fn new(inner: axum::body::Body, in_flight: InFlight) -> Self {
        InFlightBody {
            inner,
            in_flight: Some(in_flight),
        }
    }
}

impl Body for InFlightBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        if matches!(polled, Poll::Ready(None)) {
            self.in_flight = None;
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
