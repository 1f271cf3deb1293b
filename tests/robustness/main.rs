//! Wire-level robustness: what careless and hostile clients do to the served services
//! (`harness serve`): garbage, truncated input, slow clients and more connections than a
//! service allows; each test then proves the service still answers a proper request.

mod http;
mod serve_output;
mod smtp;
