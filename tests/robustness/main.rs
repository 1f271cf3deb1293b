//! Wire-level robustness: each served service (`harness serve`) is sent garbage,
//! truncated input, slow clients and more connections than it allows, and must still
//! answer a proper request afterwards.

mod smtp;
