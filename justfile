# Recipes for the harness. `just --list` shows them.
# Install just with `cargo install just --locked` (Debian 12 has no package).

# Run a scenario and print its report (exit 0 when every expectation holds); the same
# build as `just test` (the dev profile).
run scenario="scenarios/node-loss.toml" *args="":
    cargo run -- run {{scenario}} {{args}}

# The README's test command, as CI runs it (installs haproxy and nginx when missing).
test:
    tools/test

# CI exactly: the tests on a clean clone of what is committed.
ci:
    .ci/run

# The dev and release binaries print the same reports (builds the release binary: ~10 min cold).
determinism:
    cargo test --test determinism -- --ignored

# The harness's speed, issue 15's figures side by side (criterion; benches/speed/main.rs
# says what each measures), closing with a summary table. Release build; about 10 minutes
# today. `just bench fig3` runs one group (criterion's filter).
bench *filter="":
    cargo bench --bench speed -- {{filter}}

# cargo-insta is what reviews snapshots: `cargo install cargo-insta --locked`.

# Read every proposed snapshot diff, then accept or reject it (needs cargo-insta)
review:
    cargo insta review

# The instruction-count guard: callgrind's count of a short release run against the
# committed baseline, +-10% (needs valgrind; about a minute; not in tools/test or CI).
# `tools/instructions --update` rewrites the baseline after a change meant to move it.
instructions:
    tools/instructions

# Peak memory (max RSS) of the reference run and of a 1h run at the reference rate
# (release; the hour takes minutes): `tools/peak-memory --reference-only` skips it.
peak-memory *args="":
    tools/peak-memory {{args}}

# Sweep a scenario over a range of seeds (both ends included) on every core, with the
# summary on stdout; `just sweep FILE 1..1000 --out DIR --junit junit.xml` (README,
# "Sweeping and CI").
sweep scenario="scenarios/primary-loss.toml" seeds="1..200" *args="":
    cargo run -- sweep {{scenario}} --seeds {{seeds}} {{args}}
