# Recipes for newcomers; each is a thin wrapper over a cargo command that works without just.

# Ingest the bundled fixture releases into output/
demo:
    cargo run --release -- ingest fixtures/rvu99a.zip
    cargo run --release -- ingest fixtures/rvu99b.zip
    cargo run --release -- ingest fixtures/rvu99c.zip

# The test suite, as CI runs it (needs ../shared/cms-samples)
test:
    cargo test --locked

# Formatting and lints, as CI checks them
lint:
    cargo fmt --check
    cargo clippy --all-targets -- -D warnings

# Parse and ingest timings over the real RVU25A release (release build)
bench:
    cargo bench --bench ingest

# Regenerate the synthetic fixtures (a test checks they match what is committed)
fixtures:
    cargo run -- fixtures --output fixtures

# Ingest one release zip or folder
ingest PATH:
    cargo run --release -- ingest {{PATH}}
