//! The README's walkthrough, run from the README's own text against the test stack, so the docs
//! cannot drift from the code: every command must succeed and every `#>` line must appear in the
//! output, in order, as a person at a terminal sees it.
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::{TestSystem, JWT_SECRET};

/// The line just before the walkthrough's fenced block.
const MARKER: &str = "<!-- walkthrough: run by clients/cli/tests/system/readme_walkthrough.rs -->";

/// The walkthrough's shell text, found after [`MARKER`] in the README.
fn walkthrough(readme: &str) -> String {
    let after = readme
        .split_once(MARKER)
        .unwrap_or_else(|| panic!("the README has no walkthrough marker {MARKER:?}"))
        .1;
    let body = after
        .trim_start()
        .strip_prefix("```sh\n")
        .expect("a ```sh block right after the marker");
    let end = body.find("\n```").expect("the block's closing fence");
    body[..end].to_owned()
}

/// The `#>` lines: what each step prints, in order.
fn expectations(script: &str) -> Vec<String> {
    script
        .lines()
        .filter_map(|line| line.trim_start().strip_prefix("#>"))
        .map(squeeze)
        .collect()
}

/// Each run of white space as one space: the contents, whatever the column widths.
fn squeeze(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn repository_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

#[test]
fn the_walkthrough_block_is_found_with_its_expectations() {
    let readme = std::fs::read_to_string(repository_root().join("README.md")).expect("README");
    let script = walkthrough(&readme);
    assert!(script.starts_with("infra/local/up --detach"), "{script}");
    assert!(expectations(&script).contains(&"status: confirmed".to_owned()));
}

#[tokio::test]
async fn the_readme_walkthrough_runs_as_written_against_the_stack() {
    let readme = std::fs::read_to_string(repository_root().join("README.md")).expect("README");
    let script = walkthrough(&readme);
    let system = TestSystem::start().await;

    // The stack is this test's: `infra/local/up` is the one line not run.
    let script: String = script
        .lines()
        .map(|line| {
            if line.starts_with("infra/local/up") {
                ":"
            } else {
                line
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    let binary = Path::new(env!("CARGO_BIN_EXE_commerce"));
    let path = format!(
        "{}:{}",
        binary.parent().expect("the binary's directory").display(),
        std::env::var("PATH").unwrap_or_default()
    );
    // A directory of its own, so the README's `$PWD/target/release` finds no other build.
    let workdir = std::env::temp_dir().join(format!("walkthrough-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&workdir).expect("a working directory");
    let mut bash = Command::new("bash");
    bash.arg("-c")
        .arg(format!("set -euo pipefail\n{script}"))
        .current_dir(&workdir)
        .env("PATH", path)
        .env("COMMERCE_COMMAND_API_URL", &system.command_url)
        .env("COMMERCE_READ_API_URL", &system.read_url)
        .env("COMMERCE_JWT_SECRET", JWT_SECRET)
        .env("COMMERCE_OUTPUT", "human")
        .env_remove("COMMERCE_TOKEN");
    let output = tokio::task::spawn_blocking(move || bash.output())
        .await
        .expect("join")
        .expect("run bash");
    let _ = std::fs::remove_dir_all(&workdir);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "the walkthrough failed:\n{stdout}\n{stderr}"
    );

    let transcript = squeeze(&stdout);
    let mut from = 0;
    for expected in expectations(&script) {
        match transcript[from..].find(&expected) {
            Some(at) => from += at + expected.len(),
            None => panic!("`{expected}` is not printed where the README says:\n{stdout}"),
        }
    }
    system.stop().await;
}
