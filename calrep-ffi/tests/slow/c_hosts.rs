//! The C ABI from real host processes, against the freshly built
//! `libcalrep.so`: C programs (`tests/c/*.c`, gcc `-std=c11 -Wall -Wextra
//! -Werror`, `include/calrep.h`) linked dynamically, run natively and under
//! valgrind with its default leak kinds, which must report no errors and no leaks,
//! and linked statically; and a C# program
//! (`tests/dotnet/*.cs`, Mono's mcs at C# 7.2, the subset .NET 8 also
//! compiles) run with mono.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::Command;

/// Where cargo put the `libcalrep.so` and `libcalrep.a` built for this
/// test: next to the test binary in `target/<profile>/deps` (a plain
/// `cargo test` leaves them there), else `target/<profile>` (after `cargo
/// build`).
fn library_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let deps = exe.parent().unwrap();
    if deps.join("libcalrep.so").exists() {
        return deps.to_path_buf();
    }
    deps.parent().unwrap().to_path_buf()
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("calrep-c-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// How a C program links calrep.
#[derive(Clone, Copy)]
enum Link {
    /// `-lcalrep`: `libcalrep.so`, found through `LD_LIBRARY_PATH`.
    Dynamic,
    /// `libcalrep.a` into the program, with the system libraries it needs.
    Static,
}

/// Compiles `tests/c/<name>.c`; returns the program.
fn compile(name: &str, dir: &Path, link: Link) -> PathBuf {
    let crate_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let program = dir.join(name);
    let mut gcc = Command::new("gcc");
    gcc.args(["-std=c11", "-Wall", "-Wextra", "-Werror", "-g", "-I"])
        .arg(crate_dir.join("include"))
        .arg(crate_dir.join(format!("tests/c/{name}.c")));
    match link {
        Link::Dynamic => gcc.arg("-L").arg(library_dir()).arg("-lcalrep"),
        Link::Static => {
            gcc.arg(library_dir().join("libcalrep.a"))
                .args(["-lpthread", "-ldl", "-lm"])
        }
    };
    let out = gcc
        .arg("-o")
        .arg(&program)
        .output()
        .expect("gcc (scripts/test installs it)");
    assert!(
        out.status.success(),
        "gcc failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    program
}

fn run(mut command: Command, what: &str) {
    let out = command
        .env("LD_LIBRARY_PATH", library_dir())
        .output()
        .unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(
        out.status.success(),
        "{what} exited with {}:\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn the_c_smoke_host_passes_natively_and_under_valgrind() {
    let dir = scratch("smoke");
    let program = compile("smoke", &dir, Link::Dynamic);
    let mut native = Command::new(&program);
    native.arg(dir.join("native"));
    std::fs::create_dir_all(dir.join("native")).unwrap();
    run(native, "smoke");

    std::fs::create_dir_all(dir.join("valgrind")).unwrap();
    let mut valgrind = Command::new("valgrind");
    valgrind
        // valgrind's defaults for which leaks are errors (definite and
        // possible), as a host's own CI would run it.
        .args(["--error-exitcode=3", "--leak-check=full"])
        .arg(&program)
        .arg(dir.join("valgrind"));
    run(
        valgrind,
        "smoke under valgrind (scripts/test installs valgrind)",
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_c_smoke_host_passes_linked_statically() {
    let dir = scratch("static");
    let program = compile("smoke", &dir, Link::Static);
    let needed = Command::new("readelf")
        .arg("-d")
        .arg(&program)
        .output()
        .unwrap();
    let needed = String::from_utf8_lossy(&needed.stdout);
    assert!(
        needed.contains("NEEDED") && !needed.contains("libcalrep"),
        "the static program still needs libcalrep.so:\n{needed}"
    );
    std::fs::create_dir_all(dir.join("run")).unwrap();
    // No LD_LIBRARY_PATH: nothing of calrep is loaded at run time.
    let out = Command::new(&program)
        .arg(dir.join("run"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "the static program exited with {}:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_dotnet_host_replicates_through_the_c_abi() {
    let dir = scratch("dotnet");
    let sources = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/dotnet");
    let exe = dir.join("Host.exe");
    let out = Command::new("mcs")
        .arg("-langversion:7.2")
        .arg(format!("-out:{}", exe.display()))
        .arg(sources.join("Calrep.cs"))
        .arg(sources.join("Host.cs"))
        .output()
        .expect("mcs (scripts/test installs mono-mcs)");
    assert!(
        out.status.success(),
        "mcs failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let mut mono = Command::new("mono");
    mono.arg(&exe).arg(&dir);
    run(mono, "the .NET host (scripts/test installs mono-runtime)");
    let _ = std::fs::remove_dir_all(&dir);
}

/// The README's C example compiles with `-Werror` and prints what its
/// comment says.
#[test]
fn the_readme_c_example_prints_what_it_claims() {
    let readme =
        std::fs::read_to_string(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../README.md"))
            .unwrap();
    let start = readme.find("```c\n").unwrap() + "```c\n".len();
    let example = &readme[start..start + readme[start..].find("```").unwrap()];
    let claimed = example
        .lines()
        .find_map(|l| l.split("/* ").nth(1)?.strip_suffix(" */"))
        .unwrap();
    let dir = scratch("readme");
    let source = dir.join("example.c");
    std::fs::write(&source, example).unwrap();
    let program = dir.join("example");
    let out = Command::new("gcc")
        .args(["-std=c11", "-Wall", "-Wextra", "-Werror", "-I"])
        .arg(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("include"))
        .arg(&source)
        .arg("-L")
        .arg(library_dir())
        .args(["-lcalrep", "-o"])
        .arg(&program)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = Command::new(&program)
        .env("LD_LIBRARY_PATH", library_dir())
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), claimed);
    let _ = std::fs::remove_dir_all(&dir);
}
