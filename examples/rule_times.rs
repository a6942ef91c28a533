//! Times each validation rule on a real release (release build): where validation spends.
use std::time::Instant;

use rvu_pipeline::stages::validate::{RULES, Subject, validate_rule};
use rvu_pipeline::stages::{extract, normalize};

fn main() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/cms-samples");
    let read = |p: &std::path::Path| {
        let e = extract::extract(p, &extract::Limits::default()).unwrap();
        normalize::normalize(&e, p, &normalize::Options::default()).unwrap()
    };
    let (now, before) = (read(&root.join("RVU25A")), read(&root.join("RVU24B")));
    let (s, p) = (
        Subject::from_normalized(&now),
        Subject::from_normalized(&before),
    );
    for rule in RULES {
        let started = Instant::now();
        for _ in 0..10 {
            validate_rule(rule.id, &s, Some(&p));
        }
        println!(
            "{:>8.2} ms  {}",
            started.elapsed().as_secs_f64() * 100.0,
            rule.id
        );
    }
}
