//! The committed header equals what cbindgen generates from the crate now,
//! and its version macros equal Cargo.toml's version.
//! `CALREP_REGENERATE=1 cargo test -p calrep-ffi --test integration header` rewrites it.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;

fn generate() -> String {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let mut config = cbindgen::Config::from_file(dir.join("cbindgen.toml")).unwrap();
    let version = env!("CARGO_PKG_VERSION");
    let mut parts = version.split('.').map(|p| p.parse::<u32>().unwrap());
    let (major, minor, patch) = (
        parts.next().unwrap(),
        parts.next().unwrap(),
        parts.next().unwrap(),
    );
    config.after_includes = Some(format!(
        "\n#define CALREP_VERSION \"{version}\"\n#define CALREP_VERSION_MAJOR {major}\n\
         #define CALREP_VERSION_MINOR {minor}\n#define CALREP_VERSION_PATCH {patch}\n"
    ));
    let mut out = Vec::new();
    cbindgen::Builder::new()
        .with_crate(&dir)
        .with_config(config)
        .generate()
        .expect("cbindgen")
        .write(&mut out);
    String::from_utf8(out).unwrap()
}

#[test]
fn the_committed_header_is_current() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("include/calrep.h");
    let fresh = generate();
    if std::env::var_os("CALREP_REGENERATE").is_some() {
        std::fs::write(&path, &fresh).unwrap();
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == fresh,
        "include/calrep.h is stale: run CALREP_REGENERATE=1 cargo test -p calrep-ffi --test integration header"
    );
    assert!(fresh.contains(&format!(
        "#define CALREP_VERSION \"{}\"",
        env!("CARGO_PKG_VERSION")
    )));
}
