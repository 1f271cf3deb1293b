//! The `harness` command line.
//!
//! ```text
//! harness run FILE [--seed N] [--format text|json [--signups]] [--strict] [--junit PATH]
//!             [--html PATH]
//! harness sweep FILE --seeds A..B [--jobs N] [--shard K/N | --shards N] [--out DIR]
//!               [--junit PATH] [--html PATH] [--strict] [--check-determinism]
//! harness merge DIR... [--out DIR] [--junit PATH] [--html PATH] [--strict]
//! harness schema [report|serve-events]
//! harness export haproxy|nginx FILE [-o PATH] [--cert PATH] [--nginx-plus]
//! harness check FILE
//! harness shrink FILE [--seed N] -o PATH [--max-runs N]
//! harness serve dns|node|lb|smtp|ntp FILE --listen ADDR [options]
//! ```
//!
//! Exit codes: 0 when every expectation holds, 1 when one fails, 2 on bad input (an
//! unreadable or invalid scenario, a bad flag), 3 when the simulation itself failed.
//! A check not judged or vacuous does not fail a run, except with `run --strict`: then it
//! exits 1 too, naming those checks on stderr. `sweep` and `merge` exit as `run` would
//! over all their seeds: 3 when a simulation failed, else 1 when a seed failed (or, with
//! `--strict`, was not judged or vacuous), else 0; 2 on bad input (`harness::sweep`).
//! `export` exits 0 with the configuration written, 2 on bad input (the scenario, a
//! setting the target cannot express, an output path that cannot be written).
//! `check`: 0 when the file meets every requirement it checks (one summary line), 1 with
//! findings (one line each), 2 on bad input.
//! `serve`: runs until Ctrl-C (SIGINT) or SIGTERM, then exits 0; 2 on bad input, 3 when
//! the service cannot run (its address is taken, say). It prints to stderr what it serves
//! and a `listening: PROTO/PORT on ADDR` line for each service port it binds, and to
//! stdout each event as one JSON line. Stdout never blocks the service: events a slow
//! reader has no room for are dropped, and counted in a `{"dropped_events": N}` line
//! where the gap is and, in all, on stderr at the end (`harness::serve::event_output`).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

use harness::report::verdicts::Mark;
use harness::report::{Outcome, json, text};
use harness::scenario;
use harness::sweep::record::SeedRecord;

/// The harness's version (`harness::sweep::one::VERSION`: crate version and commit).
const VERSION: &str = harness::sweep::one::VERSION;

#[derive(Parser)]
#[command(
    name = "harness",
    version = VERSION,
    about = "Deterministic network-emulation harness for an identity appliance cluster"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a scenario and print its report.
    Run(RunArgs),
    /// Run a scenario on every seed of a range, as `run --seed N` would, and summarize.
    Sweep(SweepArgs),
    /// Merge sweep shards' `--out` directories into the whole sweep's summary and JUnit.
    Merge(MergeArgs),
    /// Search a smaller scenario that fails the same verdicts as a failing run, and write
    /// it (explicit steps, `seed` set) to PATH; progress on stderr.
    Shrink(ShrinkArgs),
    /// Print a JSON Schema: of `run --format json` (docs/report.schema.json) or of
    /// `serve`'s stdout lines (docs/serve-events.schema.json).
    Schema {
        #[arg(value_enum, default_value_t = SchemaOf::Report)]
        of: SchemaOf,
    },
    /// Check a scenario or a topology-only file against the vendor documents' requirements,
    /// without running it.
    Check {
        /// The scenario or topology file (TOML).
        file: PathBuf,
    },
    /// Write a real load-balancer configuration for a scenario's topology.
    Export {
        /// The balancer software.
        #[arg(value_enum)]
        target: ExportTarget,
        /// The scenario file (TOML); only its `[topology]` is used.
        file: PathBuf,
        /// Write here (atomically: a temporary file, then a rename) instead of stdout.
        #[arg(short = 'o', long = "output")]
        output: Option<PathBuf>,
        /// The PEM (certificate chain and key) served in https mode. Default
        /// /etc/haproxy/certs/<domain>.pem or /etc/nginx/certs/<domain>.pem.
        #[arg(long)]
        cert: Option<PathBuf>,
        /// nginx: NGINX Plus's active health checks instead of open-source passive ones.
        #[arg(long)]
        nginx_plus: bool,
        /// Where the balancer listens, instead of every address's port 443.
        #[arg(long, value_name = "ADDR:PORT")]
        listen: Option<std::net::SocketAddr>,
        /// A node's address and port, instead of its topology address on 443
        /// (repeatable; NAME=ADDR:PORT).
        #[arg(long = "server", value_name = "NAME=ADDR:PORT", value_parser = harness::serve::parse_backend)]
        servers: Vec<(String, std::net::SocketAddr)>,
    },
    /// Run one service of the scenario's topology on real sockets, for real clients.
    Serve {
        #[arg(value_enum)]
        service: ServeService,
        /// The scenario file (TOML); its `[topology]` configures the service.
        file: PathBuf,
        /// Where to listen (port 0: any free port, printed once bound).
        #[arg(long, value_name = "ADDR:PORT")]
        listen: std::net::SocketAddr,
        /// node: which node of the topology to be (default: the first).
        #[arg(long)]
        node: Option<String>,
        /// lb: a backend (repeatable; default the topology's nodes on port 443).
        #[arg(long = "backend", value_name = "NAME=ADDR:PORT", value_parser = harness::serve::parse_backend)]
        backends: Vec<(String, std::net::SocketAddr)>,
        /// node: the DNS server for names outside; without it NTP polls and update
        /// checks are off.
        #[arg(long, value_name = "ADDR:PORT")]
        dns: Option<std::net::SocketAddr>,
        /// node: the SMTP relay; without it mail stays queued.
        #[arg(long, value_name = "ADDR:PORT")]
        smtp: Option<std::net::SocketAddr>,
        /// node, https mode: whose X-Forwarded-For to believe (the balancer's address;
        /// default: nobody's, a client is the connection's peer).
        #[arg(long, value_name = "IP")]
        trust_proxy: Option<std::net::IpAddr>,
        /// node: the secret tokens are signed and checked with; nodes that must accept
        /// each other's tokens are given the same one (default: random, printed on
        /// stderr at start).
        #[arg(long, value_name = "SECRET")]
        token_secret: Option<String>,
        /// This host's wall clock against the machine's ("10m", "-2s"; at most a day).
        #[arg(long, value_name = "DURATION", value_parser = harness::serve::parse_offset, allow_hyphen_values = true)]
        clock_offset: Option<i64>,
        /// lb (https mode), node (tcp mode) or smtp (its STARTTLS certificate): write the
        /// CA of the served certificate here, as PEM.
        #[arg(long, value_name = "PATH")]
        ca_out: Option<PathBuf>,
    },
}

/// `harness merge`'s options.
#[derive(clap::Args)]
struct MergeArgs {
    /// The shards' output directories.
    #[arg(required = true)]
    dirs: Vec<PathBuf>,
    /// Write the merged records, manifest and summary here.
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// Write JUnit XML here (one test case per seed).
    #[arg(long, value_name = "PATH")]
    junit: Option<PathBuf>,
    /// Write the summary as one self-contained HTML page here (atomically).
    #[arg(long, value_name = "PATH")]
    html: Option<PathBuf>,
    /// Exit 1 when a check was not judged or vacuous on some seed, too.
    #[arg(long)]
    strict: bool,
}

/// `harness run`'s options.
#[derive(clap::Args)]
struct RunArgs {
    /// The scenario file (TOML).
    file: PathBuf,
    /// Use this seed instead of the scenario's.
    #[arg(long)]
    seed: Option<u64>,
    /// How to print the outcome.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    /// JSON only: list every member's signup ids (by default only their count).
    #[arg(long)]
    signups: bool,
    /// Exit 1 when a check could not be judged or was vacuous, not only when one
    /// failed.
    #[arg(long)]
    strict: bool,
    /// Also write the verdict as JUnit XML here (one test case: the scenario and seed).
    #[arg(long, value_name = "PATH")]
    junit: Option<PathBuf>,
    /// Also write the outcome as one self-contained HTML page here (atomically).
    #[arg(long, value_name = "PATH")]
    html: Option<PathBuf>,
    #[command(flatten)]
    capture: harness::capture::CaptureArgs,
}

/// `harness sweep`'s options (`harness::sweep::drive::Options` once checked).
#[derive(clap::Args)]
struct SweepArgs {
    /// The scenario file (TOML).
    file: PathBuf,
    /// The seeds: A..B, both included (1..200 is 200 seeds), or one seed N.
    #[arg(long, value_name = "A..B")]
    seeds: harness::sweep::seeds::SeedRange,
    /// Simulations at once (default: the available cores). Results do not depend on it.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    jobs: Option<u16>,
    /// Run only shard K (from 1) of N: every N-th seed of the range, from its K-th.
    #[arg(long, value_name = "K/N", conflicts_with = "shards")]
    shard: Option<harness::sweep::seeds::Shard>,
    /// Cut the sweep into N shards and run the one JOB_COMPLETION_INDEX (from 0) names,
    /// as a Kubernetes Indexed Job sets it.
    #[arg(long, value_name = "N")]
    shards: Option<u64>,
    /// Write one JSON line per seed (seeds.jsonl), the manifest and the summary here.
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// Write JUnit XML here (one test case per seed).
    #[arg(long, value_name = "PATH")]
    junit: Option<PathBuf>,
    /// Write the summary as one self-contained HTML page here (atomically).
    #[arg(long, value_name = "PATH")]
    html: Option<PathBuf>,
    /// Exit 1 when a check was not judged or vacuous on some seed, too.
    #[arg(long)]
    strict: bool,
    /// Run each seed twice and fail it when the two event logs differ.
    #[arg(long)]
    check_determinism: bool,
}

#[derive(Clone, Copy, ValueEnum)]
enum ServeService {
    Dns,
    Node,
    Lb,
    Smtp,
    Ntp,
}

#[derive(Clone, Copy, ValueEnum)]
enum ExportTarget {
    Haproxy,
    Nginx,
}

#[derive(Clone, Copy, ValueEnum)]
enum SchemaOf {
    Report,
    ServeEvents,
}

/// `harness shrink`'s arguments.
#[derive(clap::Args)]
struct ShrinkArgs {
    /// The scenario file (TOML).
    file: PathBuf,
    /// The failing run's seed (default: the scenario's).
    #[arg(long)]
    seed: Option<u64>,
    /// Where to write the smaller scenario (atomically).
    #[arg(short, long)]
    output: PathBuf,
    /// Most runs to use, the failing run's included.
    #[arg(long, default_value_t = harness::explore::shrink::DEFAULT_MAX_RUNS)]
    max_runs: usize,
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    Text,
    Json,
}

fn main() -> ExitCode {
    match Cli::parse().command {
        Command::Run(args) => run(args),
        Command::Shrink(args) => shrink(&args),
        Command::Sweep(args) => sweep(args),
        Command::Merge(args) => merge(&args),
        Command::Schema { of } => schema(of),
        Command::Export {
            target,
            file,
            output,
            cert,
            nginx_plus,
            listen,
            servers,
        } => {
            let options = harness::export::Options {
                cert,
                nginx_plus,
                source: Some(file.display().to_string()),
                listen,
                servers,
            };
            export(target, &file, output.as_deref(), options)
        }
        Command::Check { file } => check(&file),
        Command::Serve {
            service,
            file,
            listen,
            node,
            backends,
            dns,
            smtp,
            trust_proxy,
            token_secret,
            clock_offset,
            ca_out,
        } => {
            let options = harness::serve::Options {
                service: service.into(),
                listen,
                node,
                backends,
                dns,
                smtp,
                trust_proxy,
                token_secret,
                clock_offset_ns: clock_offset.unwrap_or(0),
                ca_out,
            };
            serve(&file, &options)
        }
    }
}

/// `harness schema`: prints the schema asked for.
fn schema(of: SchemaOf) -> ExitCode {
    match of {
        SchemaOf::Report => print!("{}", json::schema()),
        SchemaOf::ServeEvents => print!("{}", harness::serve::event_schema()),
    }
    ExitCode::SUCCESS
}

impl From<ServeService> for harness::serve::Service {
    fn from(service: ServeService) -> Self {
        match service {
            ServeService::Dns => Self::Dns,
            ServeService::Node => Self::Node,
            ServeService::Lb => Self::Lb,
            ServeService::Smtp => Self::Smtp,
            ServeService::Ntp => Self::Ntp,
        }
    }
}

/// Writes one line to stderr. Output that cannot be written (a closed pipe: `harness
/// serve ... | head -1`) is dropped, never a panic: the service goes on serving.
fn say(line: std::fmt::Arguments) {
    use std::io::Write as _;
    let _ = writeln!(std::io::stderr(), "{line}");
}

/// SIGINT's and SIGTERM's streams, for `serve`.
type StopSignals = (tokio::signal::unix::Signal, tokio::signal::unix::Signal);

/// `harness serve`: runs one service of `file`'s topology on real sockets until SIGINT
/// or SIGTERM (exit 0); 2 on bad input, 3 when the service cannot run.
fn serve(file: &std::path::Path, options: &harness::serve::Options) -> ExitCode {
    use harness::serve;
    let (runtime, signals) = match runtime_and_signals() {
        Ok(started) => started,
        Err(code) => return code,
    };
    let (prepared, clock) = match prepare(file, options) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let ca_written = match write_ca(options, prepared.ca_pem.as_deref()) {
        Ok(written) => written,
        Err(code) => return code,
    };
    say(format_args!("serving {}", prepared.summary));
    for notice in &prepared.notices {
        say(format_args!("{notice}"));
    }
    // Each event as one JSON line on stdout, as it happens, through a bounded queue that
    // never blocks the service (a reader that stops reading costs events, not service).
    let (recorder, output) = serve::event_output(std::io::stdout());
    let (mut int, mut term) = signals;
    let result = runtime.block_on(async {
        tokio::select! {
            result = serve::run(prepared, options, clock, recorder, |bound| {
                say(format_args!("listening: {}/{} on {}", bound.protocol, bound.service_port, bound.addr));
            }) => Some(result),
            _ = int.recv() => {
                say(format_args!("stopping: SIGINT"));
                None
            }
            _ = term.recv() => {
                say(format_args!("stopping: SIGTERM"));
                None
            }
        }
    });
    // Dropping the runtime drops every task, closing each socket it held, and with them
    // every recorder: the event writer finishes what is queued.
    drop(runtime);
    report_events(output.finish(serve::EVENT_DRAIN_TIMEOUT));
    stopped(result, options, ca_written)
}

/// The runtime `serve` runs on, and the stop signals, caught from here on: before the
/// (slow) certificate generation and before any port is bound. `Err` is exit 3.
fn runtime_and_signals() -> Result<(tokio::runtime::Runtime, StopSignals), ExitCode> {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            say(format_args!("error: cannot start the runtime: {e}"));
            return Err(ExitCode::from(3));
        }
    };
    let signals = {
        let _context = runtime.enter();
        use tokio::signal::unix::{SignalKind, signal};
        match (
            signal(SignalKind::interrupt()),
            signal(SignalKind::terminate()),
        ) {
            (Ok(int), Ok(term)) => (int, term),
            (Err(e), _) | (_, Err(e)) => {
                say(format_args!("error: cannot catch SIGINT and SIGTERM: {e}"));
                return Err(ExitCode::from(3));
            }
        }
    };
    Ok((runtime, signals))
}

/// The service `options` asks for, prepared from the scenario `file`'s topology, and the
/// clock it keeps. `Err` is exit 2 (bad input).
fn prepare(
    file: &std::path::Path,
    options: &harness::serve::Options,
) -> Result<(harness::serve::Prepared, harness::net::real::RealClock), ExitCode> {
    let scenario = match scenario::load(file) {
        Ok(s) => s,
        Err(e) => {
            say(format_args!("error: {e}"));
            return Err(ExitCode::from(2));
        }
    };
    match harness::serve::prepare(&scenario.topology, scenario.seed, options) {
        Ok(p) => Ok(p),
        Err(e) => {
            say(format_args!("error: {e}"));
            Err(ExitCode::from(2))
        }
    }
}

/// Writes the served certificate's CA (`ca_pem`) to `--ca-out`, when both are there;
/// the path written. `Err` is exit 2 (the path cannot be written).
fn write_ca(
    options: &harness::serve::Options,
    ca_pem: Option<&str>,
) -> Result<Option<PathBuf>, ExitCode> {
    let (Some(path), Some(pem)) = (&options.ca_out, ca_pem) else {
        return Ok(None);
    };
    if let Err(e) = harness::export::file::write(path, pem) {
        say(format_args!(
            "error: --ca-out: {}: cannot write: {e}",
            path.display()
        ));
        return Err(ExitCode::from(2));
    }
    Ok(Some(path.clone()))
}

/// Tells on stderr what became of the events stdout did not take.
fn report_events(events: harness::serve::Finished) {
    if events.dropped > 0 {
        say(format_args!(
            "events: {} dropped: stdout was not read fast enough (or was closed)",
            events.dropped
        ));
    }
    if !events.flushed {
        say(format_args!(
            "events: stdout still not read after {}: the events still queued are lost",
            harness::duration::span(harness::serve::EVENT_DRAIN_TIMEOUT)
        ));
    }
}

/// `serve`'s exit once the service is over: 0 when a signal stopped it (`result` is
/// `None`), else 3, with the CA written to `ca_written` removed.
fn stopped(
    result: Option<std::io::Result<()>>,
    options: &harness::serve::Options,
    ca_written: Option<PathBuf>,
) -> ExitCode {
    let failed = match result {
        None => {
            say(format_args!("stopped"));
            return ExitCode::SUCCESS;
        }
        Some(Ok(())) => "the service stopped by itself".to_string(),
        Some(Err(e)) => format!("{} on {}: {e}", options.service.name(), options.listen),
    };
    // A service that never ran leaves no CA behind for a certificate nobody served.
    if let Some(path) = ca_written {
        let _ = std::fs::remove_file(path);
    }
    say(format_args!("error: {failed}"));
    ExitCode::from(3)
}

fn check(file: &std::path::Path) -> ExitCode {
    match harness::check::check_file(file) {
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
        Ok(checked) if checked.findings.is_empty() => {
            println!("{}", checked.summary);
            ExitCode::SUCCESS
        }
        Ok(checked) => {
            for finding in &checked.findings {
                println!("{finding}");
            }
            eprintln!("{}: {} finding(s)", file.display(), checked.findings.len());
            ExitCode::from(1)
        }
    }
}

fn export(
    target: ExportTarget,
    file: &std::path::Path,
    output: Option<&std::path::Path>,
    options: harness::export::Options,
) -> ExitCode {
    let target = match target {
        ExportTarget::Haproxy => harness::export::Target::Haproxy,
        ExportTarget::Nginx => harness::export::Target::Nginx,
    };
    if options.nginx_plus && target != harness::export::Target::Nginx {
        eprintln!("error: --nginx-plus applies to `harness export nginx` only");
        return ExitCode::from(2);
    }
    let scenario = match scenario::load(file) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let text = match harness::export::render(&scenario.topology, target, &options) {
        Ok(text) => text,
        Err(e) => {
            eprintln!("error: {}: {e}", file.display());
            return ExitCode::from(2);
        }
    };
    match output {
        None => print!("{text}"),
        Some(path) => {
            if let Err(e) = harness::export::file::write(path, &text) {
                eprintln!(
                    "error: {}: cannot write the configuration: {e}",
                    path.display()
                );
                return ExitCode::from(2);
            }
        }
    }
    ExitCode::SUCCESS
}

/// `harness shrink`: exit 0 with the smaller scenario written, 1 when the run passes
/// (nothing to shrink), 2 on bad input or an output that cannot be written, 3 when the
/// simulation failed.
fn shrink(args: &ShrinkArgs) -> ExitCode {
    use harness::explore::shrink::{ShrinkError, shrink};
    let (file, output, max_runs) = (&args.file, &args.output, args.max_runs);
    let seed = match args.seed {
        Some(seed) => seed,
        None => match scenario::load(file) {
            Ok(s) => s.seed,
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(2);
            }
        },
    };
    let shrunk = match shrink(file, seed, max_runs, &mut |line| eprintln!("{line}")) {
        Ok(shrunk) => shrunk,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(match e {
                ShrinkError::Scenario(_) => 2,
                ShrinkError::Passes { .. } => 1,
                ShrinkError::Run(_) | ShrinkError::NotReproduced { .. } => 3,
            });
        }
    };
    if let Err(e) = harness::export::file::write(output, &shrunk.text) {
        eprintln!(
            "error: {}: cannot write the scenario: {e}",
            output.display()
        );
        return ExitCode::from(2);
    }
    eprintln!(
        "shrunk in {} runs: {} steps -> {}, {} -> {} of load at {}/s -> {}/s; fails {}; written to {} (reproduce: {} {})",
        shrunk.runs,
        shrunk.original.steps.len(),
        shrunk.result.steps.len(),
        harness::duration::span(shrunk.original.duration),
        harness::duration::span(shrunk.result.duration),
        shrunk.original.rate_per_s,
        shrunk.result.rate_per_s,
        shrunk.failing.join(", "),
        output.display(),
        harness::sweep::one::RUN_COMMAND,
        output.display()
    );
    ExitCode::SUCCESS
}

fn run(args: RunArgs) -> ExitCode {
    let RunArgs {
        file,
        seed,
        format,
        signups,
        strict,
        junit,
        html,
        capture,
    } = args;
    let (file, json_options) = (file.as_path(), json::Options { signups });
    let (scenario, capture) = match load_checked(file, html.as_deref(), &capture) {
        Ok(checked) => checked,
        Err(code) => return code,
    };
    let seed = seed.unwrap_or(scenario.seed);
    // Real time is read here, outside the simulation, only to tell the user how fast the
    // run went; it goes to stderr and never into the outcome.
    let started = std::time::Instant::now();
    let reproduce = harness::sweep::one::reproduce(file, seed);
    // A panic inside the simulation is a harness bug; catching it lets the user still get
    // the seed and the command that reproduces it.
    let result = std::panic::catch_unwind(|| capture.run(&scenario, seed));
    let run = match result {
        Ok(Ok(run)) => run,
        Ok(Err(e)) => {
            eprintln!("error: {e} (seed {seed}; reproduce: {reproduce})");
            let failed = SeedRecord::failed(seed, e.to_string(), reproduce);
            return write_junit(junit.as_deref(), file, &failed, strict, ExitCode::from(3));
        }
        Err(_panic) => {
            eprintln!(
                "error: the harness panicked (a bug in the harness, not the scenario); seed {seed}; reproduce: {reproduce}"
            );
            let why = "the harness panicked (a bug in the harness, not the scenario)";
            let failed = SeedRecord::failed(seed, why.to_string(), reproduce);
            return write_junit(junit.as_deref(), file, &failed, strict, ExitCode::from(3));
        }
    };
    let wall = started.elapsed();
    if let Err(e) = capture.write() {
        return usage_error(&e);
    }
    let outcome = Outcome::new(&scenario, seed, &run.events);
    match format {
        Format::Text => print!("{}", text::render(&outcome, &reproduce)),
        Format::Json => println!(
            "{}",
            json::render_reproducible(&outcome, json_options, &reproduce)
        ),
    }
    if let Some(path) = &html
        && let Err(code) = write_html(path, &outcome, &run.events, &reproduce)
    {
        return code;
    }
    eprintln!(
        "simulated {:.1}s in {:.3}s of wall time: {:.1} simulated seconds per wall second",
        run.simulated.as_secs_f64(),
        wall.as_secs_f64(),
        run.simulated.as_secs_f64() / wall.as_secs_f64().max(1e-9)
    );
    let mut record = harness::sweep::one::record(&scenario, &outcome, &run);
    record.reproduce = reproduce;
    let exit = run_exit(&outcome, strict);
    write_junit(junit.as_deref(), file, &record, strict, exit)
}

/// `harness run`'s scenario, loaded, and its options checked before the run (exit 2).
fn load_checked(
    file: &std::path::Path,
    html: Option<&std::path::Path>,
    capture: &harness::capture::CaptureArgs,
) -> Result<(scenario::Scenario, harness::capture::Prepared), ExitCode> {
    let scenario = scenario::load(file).map_err(|e| usage_error(&e))?;
    check_html_target(html)?;
    let capture = capture.prepare(&scenario).map_err(|e| usage_error(&e))?;
    Ok((scenario, capture))
}

/// Prints `e` as an error and exits 2 (an option that cannot be honoured).
fn usage_error(e: &dyn std::fmt::Display) -> ExitCode {
    eprintln!("error: {e}");
    ExitCode::from(2)
}

/// Writes `record` as JUnit XML to `path`, when asked; `exit` unless that fails (2).
fn write_junit(
    path: Option<&std::path::Path>,
    file: &std::path::Path,
    record: &SeedRecord,
    strict: bool,
    exit: ExitCode,
) -> ExitCode {
    let Some(path) = path else {
        return exit;
    };
    let scenario = file.display().to_string();
    match harness::sweep::drive::write_junit(path, &scenario, std::slice::from_ref(record), strict)
    {
        Ok(()) => exit,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}

/// `harness merge`: hands over to `harness::sweep`.
fn merge(args: &MergeArgs) -> ExitCode {
    if let Err(code) = check_html_target(args.html.as_deref()) {
        return code;
    }
    let files = harness::sweep::drive::Files {
        out: args.out.as_deref(),
        junit: args.junit.as_deref(),
        html: args.html.as_deref(),
    };
    ExitCode::from(harness::sweep::drive::merge(
        &args.dirs,
        &files,
        args.strict,
    ))
}

/// Refuses (exit 2) an `--html` page that could not be written, before any work.
fn check_html_target(path: Option<&std::path::Path>) -> Result<(), ExitCode> {
    match path.map(|p| (p, html_target(p))) {
        Some((p, Err(e))) => {
            eprintln!("error: --html: {}: {e}", p.display());
            Err(ExitCode::from(2))
        }
        _ => Ok(()),
    }
}

/// `harness sweep`: checks the shard options, then hands over to `harness::sweep`.
fn sweep(args: SweepArgs) -> ExitCode {
    use harness::sweep::seeds::{JOB_INDEX_VAR, Shard};
    if let Err(code) = check_html_target(args.html.as_deref()) {
        return code;
    }
    let shard = match (args.shard, args.shards) {
        (Some(shard), _) => Ok(shard),
        (None, Some(count)) => {
            let index = std::env::var(JOB_INDEX_VAR).ok();
            Shard::from_job_index(index.as_deref(), count)
        }
        (None, None) => Ok(Shard::WHOLE),
    };
    let shard = match shard {
        Ok(shard) => shard,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let options = harness::sweep::drive::Options {
        file: args.file,
        seeds: args.seeds,
        jobs: args.jobs.map(usize::from),
        shard,
        out: args.out,
        junit: args.junit,
        html: args.html,
        strict: args.strict,
        check_determinism: args.check_determinism,
    };
    ExitCode::from(harness::sweep::drive::sweep(&options))
}

/// `run`'s exit: 1 when a verdict failed; with `strict`, also when one was not judged or
/// vacuous (each named on stderr); 0 otherwise.
fn run_exit(outcome: &Outcome, strict: bool) -> ExitCode {
    if !outcome.passed {
        return ExitCode::from(1);
    }
    let unpassed: Vec<String> = outcome
        .verdicts
        .iter()
        .filter(|v| v.holds() && v.status != Mark::Pass)
        .map(|v| format!("{} ({}: {})", v.expectation, v.status.word(), v.observed))
        .collect();
    if strict && !unpassed.is_empty() {
        eprintln!(
            "strict: {} expectation(s) not passed: {}",
            unpassed.len(),
            unpassed.join("; ")
        );
        return ExitCode::from(1);
    }
    ExitCode::SUCCESS
}

/// Checks before the run that `--html`'s page can go to `path`: its folder exists.
fn html_target(path: &std::path::Path) -> Result<(), String> {
    let folder = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => std::path::Path::new("."),
    };
    if !folder.is_dir() {
        return Err(format!("no such folder {}", folder.display()));
    }
    if path.is_dir() {
        return Err("is a folder, not a file".to_string());
    }
    Ok(())
}

/// Writes the HTML page of the run to `path` (atomically). `Err` is exit 2 (the path
/// cannot be written) or 3 (the page could not be made: a harness bug).
fn write_html(
    path: &std::path::Path,
    outcome: &Outcome,
    events: &harness::events::Log,
    reproduce: &str,
) -> Result<(), ExitCode> {
    let page = match harness::report::html::render(outcome, events, reproduce) {
        Ok(page) => page,
        Err(e) => {
            eprintln!("error: --html: {e} (a bug in the harness; reproduce: {reproduce})");
            return Err(ExitCode::from(3));
        }
    };
    if let Err(e) = harness::export::file::write(path, &page) {
        eprintln!(
            "error: --html: {}: cannot write the page: {e}",
            path.display()
        );
        return Err(ExitCode::from(2));
    }
    Ok(())
}
