//! Robustness: each service `harness serve` runs, on loopback, fed what a careless or
//! hostile client sends (garbage, truncated messages, slow and idle clients, more
//! connections than the service's bound, datagrams it cannot answer), and then asked a
//! proper question it must still answer. The process helpers are in `common`; one module
//! per service.
//!
//! Needs root (or CAP_NET_RAW): a datagram from source port 0, which an attacker anywhere
//! can send, is forged with a raw socket by Debian's `/usr/bin/python3` (tools/test makes
//! sure it is there). Without either the test fails, naming what is missing.

mod common;
mod dns;
mod ntp;
