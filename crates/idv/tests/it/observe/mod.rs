//! Watching `idv serve`: the Prometheus endpoint on its own listener, JSON log lines carrying
//! the request id, readiness, and a graceful stop under load (the real binary throughout).

mod logs;
mod metrics;
mod prom;
mod ready;
mod shutdown;
