//! Robustness: each service `harness serve` runs, on loopback, fed what a careless or
//! hostile client sends (garbage, truncated messages, slow and idle clients, more
//! connections than the service's bound, datagrams it cannot answer, a stdout nobody
//! reads), and then asked a proper question it must still answer. One module per
//! service; `common` holds the DNS and NTP modules' process helpers.
//!
//! Needs root (or CAP_NET_RAW): a datagram from source port 0, which an attacker anywhere
//! can send, is forged with a raw socket by Debian's `/usr/bin/python3` (tools/test makes
//! sure it is there). Without either the test fails, naming what is missing.

mod common;
mod dns;
mod http;
mod ntp;
mod serve_output;
mod smtp;
