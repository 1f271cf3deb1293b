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

# Benchmarks of the harness's own speed (criterion; see benches/).
bench:
    cargo bench

# cargo-insta is what reviews snapshots: `cargo install cargo-insta --locked`.

# Read every proposed snapshot diff, then accept or reject it (needs cargo-insta)
review:
    cargo insta review
