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

/// The README's first command is `cargo run --release -- demo`. The workspace builds two
/// binaries (`immuta-gitops` and the emulator crate's), so without `default-run` plain
/// `cargo run` refuses to pick one and the newcomer's first command fails.
#[test]
fn cargo_run_picks_the_main_binary() {
    let manifest =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml")).unwrap();
    let package = manifest.split("[workspace]").next().unwrap_or_default();
    assert!(
        package
            .lines()
            .any(|l| l.trim() == "default-run = \"immuta-gitops\""),
        "[package] of Cargo.toml must set default-run = \"immuta-gitops\""
    );
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    assert!(readme.contains("cargo run --release -- demo"));
}
