//! `harness run`'s capture options: checked against the scenario before the run, then the
//! run with the capture hook and the key log, then the files written, each atomically.

use std::cell::RefCell;
use std::net::{IpAddr, SocketAddrV4};
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::executor::{self, Run};
use crate::scenario::Scenario;
use crate::tls::keylog::{self, KeyLogLines};
use crate::world::sim::{Observer, WorldError};

use super::Capture;

/// `--pcap-max-bytes`' default: 256 MiB. The capture is built in memory and written at
/// the end, so the bound is also what it can cost in memory.
pub const PCAP_MAX_BYTES_DEFAULT: u64 = 256 * 1024 * 1024;

/// The smallest `--pcap-max-bytes`: the pcap file's global header alone.
const PCAP_MAX_BYTES_MIN: u64 = 24;

/// The capture options of `harness run`.
#[derive(Debug, Clone, clap::Args)]
pub struct CaptureArgs {
    /// Write the run's network traffic here as a pcap file (raw IPv4, simulated time
    /// from 2026-01-01), atomically, for Wireshark or tshark.
    #[arg(long, value_name = "PATH")]
    pub pcap: Option<PathBuf>,
    /// Capture only packets from or to this host (repeatable; by topology name).
    #[arg(long = "pcap-host", value_name = "HOST", requires = "pcap")]
    pub hosts: Vec<String>,
    /// Capture only packets from or to this port (repeatable).
    #[arg(long = "pcap-port", value_name = "PORT", requires = "pcap")]
    pub ports: Vec<u16>,
    /// Capture only packets sent at or after this simulated time (e.g. "25s").
    #[arg(long = "pcap-from", value_name = "TIME", requires = "pcap", value_parser = humantime::parse_duration)]
    pub from: Option<Duration>,
    /// Capture only packets sent before this simulated time (e.g. "40s").
    #[arg(long = "pcap-until", value_name = "TIME", requires = "pcap", value_parser = humantime::parse_duration)]
    pub until: Option<Duration>,
    /// The capture file's size bound in bytes: past it, later packets are left out (the
    /// file stays a valid pcap of the run's beginning) and stderr says how many.
    #[arg(long = "pcap-max-bytes", value_name = "BYTES", default_value_t = PCAP_MAX_BYTES_DEFAULT)]
    pub max_bytes: u64,
    /// Write the simulation's TLS secrets here (SSLKEYLOGFILE format), atomically, so
    /// Wireshark decrypts the capture's TLS.
    #[arg(long = "tls-keylog", value_name = "PATH")]
    pub tls_keylog: Option<PathBuf>,
}

/// A capture option that cannot be honoured.
#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    #[error("--pcap-host: the topology has no host named {name:?} (its hosts: {known})")]
    UnknownHost { name: String, known: String },
    #[error("--pcap-from ({from:?}) must come before --pcap-until ({until:?})")]
    Window { from: Duration, until: Duration },
    #[error("--pcap-max-bytes: {0} is less than a pcap file's header ({PCAP_MAX_BYTES_MIN} bytes)")]
    TooSmall(u64),
    #[error("{option}: {path}: {why}")]
    Path {
        option: &'static str,
        path: String,
        why: String,
    },
}

/// What the capture keeps.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Packets from or to one of these (all when empty).
    pub hosts: Vec<IpAddr>,
    /// Packets from or to one of these ports (all when empty).
    pub ports: Vec<u16>,
    pub from: Duration,
    pub until: Option<Duration>,
    pub max_bytes: usize,
}

impl Limits {
    /// Whether a packet from `src` to `dst` sent at `at` is kept.
    pub fn keeps(&self, at: Duration, src: SocketAddrV4, dst: SocketAddrV4) -> bool {
        let host = |a: SocketAddrV4| self.hosts.contains(&IpAddr::V4(*a.ip()));
        let port = |a: SocketAddrV4| self.ports.contains(&a.port());
        at >= self.from
            && self.until.is_none_or(|u| at < u)
            && (self.hosts.is_empty() || host(src) || host(dst))
            && (self.ports.is_empty() || port(src) || port(dst))
    }
}

/// The capture options, checked: what [`Prepared::run`] captures and [`Prepared::write`]
/// writes.
#[derive(Debug)]
pub struct Prepared {
    pcap: Option<(PathBuf, Limits)>,
    keylog: Option<PathBuf>,
    /// What the run produced: the capture's bytes and counts, the key log's text.
    out: Mutex<Output>,
}

#[derive(Debug, Default)]
struct Output {
    pcap: Option<(Vec<u8>, u64, u64)>,
    keys: Option<String>,
}

impl CaptureArgs {
    /// Checks the options against `scenario` (host names, window, size, paths).
    pub fn prepare(&self, scenario: &Scenario) -> Result<Prepared, CaptureError> {
        if let (Some(from), Some(until)) = (self.from, self.until)
            && from >= until
        {
            return Err(CaptureError::Window { from, until });
        }
        if self.max_bytes < PCAP_MAX_BYTES_MIN {
            return Err(CaptureError::TooSmall(self.max_bytes));
        }
        let topology = &scenario.topology;
        let hosts = self
            .hosts
            .iter()
            .map(|name| {
                topology.host(name).map(|h| h.address).ok_or_else(|| {
                    let known: Vec<&str> = topology.hosts.iter().map(|h| h.name.as_str()).collect();
                    CaptureError::UnknownHost {
                        name: name.clone(),
                        known: known.join(", "),
                    }
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let limits = Limits {
            hosts,
            ports: self.ports.clone(),
            from: self.from.unwrap_or_default(),
            until: self.until,
            max_bytes: usize::try_from(self.max_bytes).unwrap_or(usize::MAX),
        };
        for (option, path) in [("--pcap", &self.pcap), ("--tls-keylog", &self.tls_keylog)] {
            if let Some(path) = path {
                writable(option, path)?;
            }
        }
        Ok(Prepared {
            pcap: self.pcap.clone().map(|p| (p, limits)),
            keylog: self.tls_keylog.clone(),
            out: Mutex::new(Output::default()),
        })
    }
}

/// Fails unless `path` names a file in an existing directory.
fn writable(option: &'static str, path: &Path) -> Result<(), CaptureError> {
    let fail = |why: &str| CaptureError::Path {
        option,
        path: path.display().to_string(),
        why: why.to_string(),
    };
    if path.is_dir() {
        return Err(fail("is a directory; expected a file name"));
    }
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty());
    if dir.is_some_and(|d| !d.is_dir()) {
        return Err(fail("its directory does not exist"));
    }
    Ok(())
}

impl Prepared {
    /// Runs `scenario` with `seed` ([`executor::run`]), capturing what was asked.
    pub fn run(&self, scenario: &Scenario, seed: u64) -> Result<Run, WorldError> {
        if self.pcap.is_none() && self.keylog.is_none() {
            return executor::run(scenario, seed);
        }
        let keys = self
            .keylog
            .as_ref()
            .map(|_| Arc::new(KeyLogLines::default()));
        keylog::log_keys_this_thread(keys.clone());
        let capture = self
            .pcap
            .as_ref()
            .map(|(_, limits)| Rc::new(RefCell::new(Capture::new(limits.clone()))));
        let observer = capture.clone().map(|c| {
            Box::new(move |o: &turmoil::Observation<'_>| c.borrow_mut().see(o)) as Observer
        });
        let run = executor::run_observed(scenario, seed, observer);
        keylog::log_keys_this_thread(None);
        let mut out = self.out.lock().expect("one run at a time");
        out.keys = keys.map(|k| k.text());
        out.pcap = capture.map(|c| {
            let c = c.borrow();
            let (bytes, written, left_out) = c.finish();
            (bytes.to_vec(), written, left_out)
        });
        run
    }

    /// Writes what [`Prepared::run`] captured, each file atomically; notes on stderr
    /// (the capture's size, or that the size bound cut it short).
    pub fn write(&self) -> Result<(), CaptureError> {
        let out = self.out.lock().expect("one run at a time");
        if let (Some((path, limits)), Some((bytes, written, left_out))) = (&self.pcap, &out.pcap) {
            save("--pcap", path, bytes)?;
            eprintln!(
                "capture: {} packets, {} bytes in {}",
                written,
                bytes.len(),
                path.display()
            );
            if *left_out > 0 {
                eprintln!(
                    "capture: truncated: the size bound (--pcap-max-bytes {}) was reached; {left_out} later packets were left out (the file is a valid pcap of the run's beginning)",
                    limits.max_bytes
                );
            }
        }
        if let (Some(path), Some(keys)) = (&self.keylog, &out.keys) {
            save("--tls-keylog", path, keys.as_bytes())?;
        }
        Ok(())
    }
}

fn save(option: &'static str, path: &Path, bytes: &[u8]) -> Result<(), CaptureError> {
    crate::export::file::write_bytes(path, bytes).map_err(|e| CaptureError::Path {
        option,
        path: path.display().to_string(),
        why: format!("cannot write: {e}"),
    })
}
