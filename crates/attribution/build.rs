//! Compiles the kernel side (src/bpf/attribution.bpf.c) with clang into
//! `$OUT_DIR/attribution.bpf.o`, which src/bpf.rs embeds and loads at run
//! time. Only uapi and libbpf headers are used, so any Debian machine with
//! clang and libbpf-dev builds it (no vmlinux.h, no BTF of the build host).
use std::env;
use std::path::PathBuf;

use libbpf_cargo::SkeletonBuilder;

const SRC: &str = "src/bpf/attribution.bpf.c";

fn main() {
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("OUT_DIR is set by cargo")).join("attribution.bpf.o");
    // Debian keeps <asm/types.h> (pulled in by <linux/bpf.h>) under the
    // multiarch directory, which `clang -target bpf` does not search.
    let multiarch = format!("-I/usr/include/{}-linux-gnu", env::var("CARGO_CFG_TARGET_ARCH").unwrap_or_default());
    SkeletonBuilder::new()
        .source(SRC)
        .obj(&out)
        .clang_args([multiarch.as_str(), "-Wall", "-Werror"])
        .build()
        .unwrap_or_else(|e| panic!("building {SRC} with clang: {e:#}"));
    println!("cargo:rerun-if-changed={SRC}");
}
