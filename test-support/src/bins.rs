//! Paths of binaries and examples in the workspace's target folder.

use std::path::PathBuf;

/// `target/<profile>/`: the folder above the running test's `deps/`.
fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary's own path");
    // target/<profile>/deps/NAME-HASH -> target/<profile>
    match exe.parent().and_then(|deps| deps.parent()) {
        Some(p) => p.to_path_buf(),
        None => panic!("{} is not inside a cargo target folder", exe.display()),
    }
}

/// The binary `name` built in this workspace (for a binary of another crate, whose
/// `CARGO_BIN_EXE_…` is not set here); fails the test naming the build to run if missing.
pub fn target_bin(name: &str) -> PathBuf {
    let p = profile_dir().join(name);
    assert!(
        p.exists(),
        "{} not built: run `cargo build --bin {name}` first",
        p.display()
    );
    p
}

/// The example program `name` of this workspace (cargo builds examples before tests).
pub fn example_bin(name: &str) -> PathBuf {
    let p = profile_dir().join("examples").join(name);
    assert!(
        p.exists(),
        "{} not built: run `cargo build --examples` first",
        p.display()
    );
    p
}
