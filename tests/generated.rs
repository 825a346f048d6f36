//! The committed `generated/graph_client.rs` must be exactly what `build.rs` produces, so every
//! spec change is reviewed as a diff of generated code.
//!
//! Refresh it with: `UPDATE_GENERATED=1 cargo test --test generated`

use std::path::Path;

const COMMITTED: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/generated/graph_client.rs");
const REFRESH: &str = "UPDATE_GENERATED=1 cargo test --test generated";

#[test]
fn committed_generated_code_matches_build_output() {
    let built = graph_meetings::generated::SOURCE;
    if std::env::var_os("UPDATE_GENERATED").is_some() {
        std::fs::write(COMMITTED, built).expect("writing generated/graph_client.rs");
        return;
    }
    let committed = std::fs::read_to_string(Path::new(COMMITTED)).unwrap_or_default();
    if committed != built {
        let diff = similar::TextDiff::from_lines(committed.as_str(), built);
        let shown = diff
            .unified_diff()
            .context_radius(2)
            .header("generated/graph_client.rs (committed)", "build.rs output")
            .to_string();
        panic!(
            "generated/graph_client.rs is out of date with spec/ and build.rs.\n\
             Review the diff below, then refresh it with:\n\n    {REFRESH}\n\n{shown}"
        );
    }
}
