//! Every example tree in `examples/` is valid input: no errors, and no warnings beyond
//! those listed here with their reason.

use std::collections::BTreeMap;
use std::path::Path;

use immuta_gitops::manifest;
use immuta_gitops::source::local;

fn load(dir: &str) -> manifest::DesiredSet {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
    let snap = local::read_dir(&root, None, &Default::default()).unwrap();
    let env: BTreeMap<String, String> = [
        "SNOWFLAKE_PASSWORD",
        "DATABRICKS_TOKEN",
        "REDSHIFT_PASSWORD",
    ]
    .iter()
    .map(|n| (n.to_string(), format!("demo-{}", n.to_lowercase())))
    .collect();
    manifest::load(&snap, &env).unwrap_or_else(|d| {
        panic!(
            "{dir}:\n{}",
            d.iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("\n")
        )
    })
}

#[test]
fn demo_trees_are_valid_and_warning_free() {
    for dir in ["examples/demo/desired", "examples/demo/live"] {
        let set = load(dir);
        assert!(
            set.objects.len() >= 20,
            "{dir}: {} objects",
            set.objects.len()
        );
        assert!(
            set.warnings.is_empty(),
            "{dir}:\n{}",
            set.warnings
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("\n")
        );
    }
}
