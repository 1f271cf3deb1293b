//! The `harness` command line.
//!
//! ```text
//! harness run FILE [--seed N] [--format text|json]
//! harness export haproxy|nginx FILE [-o PATH] [--cert PATH] [--nginx-plus]
//! harness check FILE
//! ```
//!
//! Exit codes: 0 when every expectation holds, 1 when one fails, 2 on bad input (an
//! unreadable or invalid scenario, a bad flag), 3 when the simulation itself failed.
//! `export` exits 0 with the configuration written, 2 on bad input (the scenario, a
//! setting the target cannot express, an output path that cannot be written).
//! `check`: 0 when the file meets every requirement it checks (one summary line), 1 with
//! findings (one line each), 2 on bad input.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

use harness::report::{Outcome, text};
use harness::scenario::{self, executor};

#[derive(Parser)]
#[command(
    name = "harness",
    version,
    about = "Deterministic network-emulation harness for an identity appliance cluster"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a scenario and print its report.
    Run {
        /// The scenario file (TOML).
        file: PathBuf,
        /// Use this seed instead of the scenario's.
        #[arg(long)]
        seed: Option<u64>,
        /// How to print the outcome.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// Check a scenario or a topology-only file against the seeds' requirements, without
    /// running it.
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
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum ExportTarget {
    Haproxy,
    Nginx,
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    Text,
    Json,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Run { file, seed, format } => run(&file, seed, format),
        Command::Export {
            target,
            file,
            output,
            cert,
            nginx_plus,
        } => export(target, &file, output.as_deref(), cert, nginx_plus),
        Command::Check { file } => check(&file),
    }
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
    cert: Option<PathBuf>,
    nginx_plus: bool,
) -> ExitCode {
    let target = match target {
        ExportTarget::Haproxy => harness::export::Target::Haproxy,
        ExportTarget::Nginx => harness::export::Target::Nginx,
    };
    if nginx_plus && target != harness::export::Target::Nginx {
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
    let options = harness::export::Options {
        cert,
        nginx_plus,
        source: Some(file.display().to_string()),
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

fn run(file: &std::path::Path, seed: Option<u64>, format: Format) -> ExitCode {
    let scenario = match scenario::load(file) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let seed = seed.unwrap_or(scenario.seed);
    // Real time is read here, outside the simulation, only to tell the user how fast the
    // run went; it goes to stderr and never into the outcome.
    let started = std::time::Instant::now();
    let reproduce = format!(
        "cargo run --release -- run {} --seed {seed}",
        file.display()
    );
    // A panic inside the simulation is a harness bug; catching it lets the user still get
    // the seed and the command that reproduces it.
    let result = std::panic::catch_unwind(|| executor::run(&scenario, Some(seed)));
    let run = match result {
        Ok(Ok(run)) => run,
        Ok(Err(e)) => {
            eprintln!("error: {e} (seed {seed}; reproduce: {reproduce})");
            return ExitCode::from(3);
        }
        Err(_panic) => {
            eprintln!(
                "error: the harness panicked (a bug in the harness, not the scenario); seed {seed}; reproduce: {reproduce}"
            );
            return ExitCode::from(3);
        }
    };
    let wall = started.elapsed();
    let outcome = Outcome::new(&scenario, seed, &run.events);
    let reproduce = format!(
        "cargo run --release -- run {} --seed {seed}",
        file.display()
    );
    match format {
        Format::Text => print!("{}", text::render(&outcome, &reproduce)),
        Format::Json => println!(
            "{}",
            serde_json::to_string_pretty(&outcome).expect("the outcome is plain data")
        ),
    }
    eprintln!(
        "simulated {:.1}s in {:.3}s of wall time: {:.1} simulated seconds per wall second",
        run.simulated.as_secs_f64(),
        wall.as_secs_f64(),
        run.simulated.as_secs_f64() / wall.as_secs_f64().max(1e-9)
    );
    if outcome.passed {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}
