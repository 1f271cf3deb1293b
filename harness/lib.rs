//! placeholder
pub mod duration;
pub mod env;
pub mod events;
pub mod net;
pub mod services;
pub mod topology;
pub mod world;
