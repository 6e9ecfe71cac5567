//! Limits on connections before any request is read: how many are open in all and per client
//! address. A connection past either is closed at once, so a flood of idle or slow connections
//! cannot use up the process's file descriptors; each connection's count is released when it
//! closes (for a WebSocket, when the socket ends). Header-read, first-request and TLS-handshake
//! timeouts are set where the server is built (`api::serve`).

use std::collections::HashMap;
use std::io;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use axum_server::accept::Accept;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

#[derive(Debug, Default)]
struct Open {
    total: usize,
    by_address: HashMap<IpAddr, usize>,
}

/// The acceptor that counts connections and refuses those past the limits.
#[derive(Clone)]
pub struct ConnLimits {
    open: Arc<Mutex<Open>>,
    max_total: usize,
    max_per_address: usize,
    /// Exempt from the per-address cap (every client behind them shares their address).
    proxies: super::proxy::TrustedProxies,
    metrics: Arc<crate::metrics::Metrics>,
}

impl ConnLimits {
    /// Refusals are counted in `metrics` (`callscribe_connections_refused_total`).
    pub fn new(
        max_total: usize,
        max_per_address: usize,
        proxies: super::proxy::TrustedProxies,
        metrics: Arc<crate::metrics::Metrics>,
    ) -> Self {
        ConnLimits {
            open: Arc::default(),
            max_total,
            max_per_address,
            proxies,
            metrics,
        }
    }

    fn take(&self, ip: IpAddr) -> Option<ConnGuard> {
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        let here = open.by_address.get(&ip).copied().unwrap_or(0);
        if open.total >= self.max_total
            || (here >= self.max_per_address && !self.proxies.contains(ip))
        {
            return None;
        }
        open.total += 1;
        *open.by_address.entry(ip).or_default() += 1;
        Some(ConnGuard {
            open: self.open.clone(),
            ip,
        })
    }
}

/// One open connection's place in the counts.
#[derive(Debug)]
pub struct ConnGuard {
    open: Arc<Mutex<Open>>,
    ip: IpAddr,
}

impl Drop for ConnGuard {
    fn drop(&mut self) {
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        open.total = open.total.saturating_sub(1);
        if let Some(n) = open.by_address.get_mut(&self.ip) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                open.by_address.remove(&self.ip);
            }
        }
    }
}

/// A stream that holds its connection's place in the counts until it is dropped.
#[derive(Debug)]
pub struct Counted<S> {
    stream: S,
    _guard: ConnGuard,
}

impl<S: AsyncRead + Unpin> AsyncRead for Counted<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Counted<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }
}

impl<S> Accept<TcpStream, S> for ConnLimits {
    type Stream = Counted<TcpStream>;
    type Service = S;
    type Future = std::future::Ready<io::Result<(Self::Stream, S)>>;

    fn accept(&self, stream: TcpStream, service: S) -> Self::Future {
        let taken = stream
            .peer_addr()
            .ok()
            .and_then(|addr| self.take(addr.ip()));
        std::future::ready(match taken {
            Some(guard) => Ok((
                Counted {
                    stream,
                    _guard: guard,
                },
                service,
            )),
            None => {
                self.metrics
                    .connections_refused
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                Err(io::Error::other("connection limit reached"))
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_are_per_address_and_in_all_and_released_on_drop() {
        let l = ConnLimits::new(3, 2, Default::default(), Arc::default());
        let a: IpAddr = "127.0.0.2".parse().unwrap();
        let b: IpAddr = "127.0.0.3".parse().unwrap();
        let a1 = l.take(a).unwrap();
        let _a2 = l.take(a).unwrap();
        assert!(l.take(a).is_none(), "per address");
        let _b1 = l.take(b).unwrap();
        assert!(l.take(b).is_none(), "in all");
        drop(a1);
        assert!(l.take(b).is_some(), "released when closed");
    }
}
