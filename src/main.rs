use std::process::ExitCode;

/// mimalloc rather than glibc's malloc: see Cargo.toml and docs/performance.md.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    cyoa::cli::main()
}
