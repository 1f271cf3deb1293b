//! Robustness: what careless and hostile clients do to the served services (`harness serve`), and proof that each service still answers afterwards.

mod http;
mod serve_output;
