# Recipes for newcomers; each is a thin wrapper over a cargo command that works without just.

# Every stage over the bundled fixture releases (offline) into output/
demo:
    cargo run --release -- run pipelines/demo.toml

# The real pipeline: every CMS release since the definition's `since` (needs the internet)
run PIPELINE="pipelines/cms-pfs.toml":
    cargo run --release -- run {{PIPELINE}}

# Validates against the latest release published under OUTPUT, writes validation.md and
# validation.junit.xml, exits 1 on errors, publishes nothing.
# CI gate for a new release (a zip, a folder or an https URL)
validate-release URL_OR_ZIP OUTPUT="output":
    cargo run --release -- validate {{URL_OR_ZIP}} --against-latest --output {{OUTPUT}} --markdown validation.md --junit validation.junit.xml

# The test suite, as CI runs it: installs what the tests need, then cargo test
# (needs ../shared/cms-samples)
test:
    scripts/test

# Formatting and lints, as CI checks them
lint:
    cargo fmt --check
    cargo clippy --all-targets -- -D warnings

# Parse and ingest timings over the real RVU25A release (release build)
bench:
    cargo bench --bench ingest

# `rvu load` of RVU26A into a PostgreSQL server the benchmark starts, and the no-op re-load
bench-load:
    cargo bench --bench load

# Exit code 1 is expected: UNKNOWN-1 does not say which release it is and is quarantined.
# `rvu run` over every real sample release (wall time, peak memory), then a no-op re-run
bench-run:
    #!/usr/bin/env bash
    set -u
    cargo build --release --quiet
    bin="${CARGO_TARGET_DIR:-target}/release/rvu"
    out="$(mktemp -d)"
    /usr/bin/time -f "first run: %e s wall, %M KB peak" "$bin" run pipelines/samples.toml --output "$out" | tail -3
    /usr/bin/time -f "no-op re-run: %e s wall, %M KB peak" "$bin" run pipelines/samples.toml --output "$out" | tail -1
    rm -rf "$out"

# Regenerate the synthetic fixtures (a test checks they match what is committed)
fixtures:
    cargo run -- fixtures --output fixtures

# Ingest one release zip or folder
ingest PATH:
    cargo run --release -- ingest {{PATH}}
