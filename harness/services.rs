//! One file per virtual component of the deployment.
//!
//! Each service is an `async fn run(env, config)` generic over [`crate::net::Net`], with its
//! protocol logic in plain functions and types that take `now` as an argument and are
//! unit-tested in their own files.

pub mod arrivals;
pub mod browser;
pub mod cluster_ports;
pub mod connector;
pub mod database;
pub mod dev_tester;
pub mod dns;
pub mod egress;
pub mod health;
pub mod http;
pub mod internet;
pub mod lb_admin;
pub mod load_balancer;
pub mod mail;
pub mod monitor;
pub mod node;
pub mod ntp;
pub mod outbound;
pub mod proxy_header;
pub mod replica_set;
pub mod round_robin;
pub mod smtp;
pub mod ssh;
pub mod status;
pub mod token;
pub mod users;
