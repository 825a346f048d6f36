//! The committed `generated/graph_client.rs` must be exactly what `build.rs` produces, so every
//! spec change is reviewed as a diff of generated code.
//!
//! Refresh it with: `UPDATE_GENERATED=1 cargo test --test generated`

use std::path::Path;

const COMMITTED: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/generated/graph_client.rs");
const REFRESH: &str = "UPDATE_GENERATED=1 cargo test --test generated";
/// What build.rs wrote for this build of the crate.
const BUILT: &str = include_str!(concat!(env!("OUT_DIR"), "/graph_client.rs"));

#[test]
fn committed_generated_code_matches_build_output() {
    let built = BUILT;
    match std::env::var("UPDATE_GENERATED").as_deref() {
        Ok("1") if std::env::var_os("CI").is_some() => {
            // A refresh in CI would turn the check into a rewrite that always passes.
            panic!("UPDATE_GENERATED=1 is refused where CI is set: refresh on a checkout")
        }
        Ok("1") => {
            // Fails when it changed the file: the refresh is then said, not buried in a passing
            // test's output, and a variable left exported cannot keep rewriting in silence.
            let before = std::fs::read_to_string(COMMITTED).unwrap_or_default();
            if before.replace("\r\n", "\n") == built {
                return;
            }
            std::fs::write(COMMITTED, built).expect("writing generated/graph_client.rs");
            panic!(
                "generated/graph_client.rs refreshed from build.rs: review `git diff generated/`, \
                 then run the tests without UPDATE_GENERATED"
            );
        }
        Ok(other) => panic!("UPDATE_GENERATED={other:?}: set it to 1 to refresh, or unset it"),
        Err(_) => {}
    }
    // A checkout that turned line endings into CRLF (core.autocrlf) holds the same code.
    let committed = std::fs::read_to_string(Path::new(COMMITTED))
        .unwrap_or_default()
        .replace("\r\n", "\n");
    if committed != built {
        let diff = similar::TextDiff::from_lines(committed.as_str(), built);
        let shown = diff
            .unified_diff()
            .context_radius(2)
            .header("generated/graph_client.rs (committed)", "build.rs output")
            .to_string();
        panic!(
            "generated/graph_client.rs is out of date with spec/ and build.rs.\n\
             Review the diff below, then refresh it with:\n\n    {REFRESH}\n\n\
             If generated/ was edited by hand: that edit has no effect (the crate is built from \
             build.rs's output), and the refresh discards it; make the change in spec/ or in \
             build.rs's settings instead.\n\n{shown}"
        );
    }
}

/// Every open enum in the spec (`oneOf` a known enum and a plain string) is generated as
/// `Open<Known…>` and keeps its own name in `types` (src/types.rs): a schema the generator
/// settings miss would come out as an untagged enum of its own, and one without an alias would
/// lose its name.
#[test]
fn every_open_enum_is_open_and_named_in_types() {
    let spec: serde_json::Value =
        serde_json::from_str(include_str!("../spec/onlineMeetings.json")).expect("spec is JSON");
    let aliases = include_str!("../src/types.rs");
    let built = BUILT;
    let schemas = spec["components"]["schemas"].as_object().expect("schemas");
    let mut found = 0;
    for (name, schema) in schemas {
        let Some([known, other]) = schema["oneOf"].as_array().map(Vec::as_slice) else {
            continue;
        };
        if other["type"] != "string" {
            continue;
        }
        let reference = known["$ref"]
            .as_str()
            .or_else(|| known["allOf"][0]["$ref"].as_str())
            .expect("the known half is a reference");
        let rust = |schema: &str| {
            let mut chars = schema.chars();
            let first = chars.next().expect("a name").to_ascii_uppercase();
            std::iter::once(first).chain(chars).collect::<String>()
        };
        let (name, known) = (rust(name), rust(reference.rsplit('/').next().unwrap()));
        assert!(
            built.contains(&format!("crate::open::Open<{known}>")),
            "{name}: not generated as Open<{known}> (build.rs open_enums)"
        );
        assert!(
            !built.contains(&format!("pub enum {name} ")),
            "{name}: generated as an enum of its own"
        );
        assert!(
            aliases.contains(&format!("pub type {name} = Open<{known}>;")),
            "{name}: no alias in src/types.rs"
        );
        // Graph adds members: a caller's `match` on the known ones needs a `_` arm now, so
        // that a spec update naming one more does not break it.
        let at = built
            .find(&format!("pub enum {known} {{"))
            .unwrap_or_else(|| panic!("{known}: not generated as an enum"));
        let attributes = &built[built[..at].rfind("///").unwrap_or(0)..at];
        assert!(
            attributes.contains("#[non_exhaustive]"),
            "{known}: not #[non_exhaustive] (build.rs)"
        );
        found += 1;
    }
    assert!(found >= 8, "only {found} open enums found in the spec");
}
