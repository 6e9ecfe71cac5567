//! callscribe's own loopback clients: the streaming client that replays a recorded call to
//! `callscribe serve` ([`replay`]) and the load generator built on it ([`loadtest`]).

pub mod loadtest;
pub mod replay;
