use std::process::ExitCode;

fn main() -> ExitCode {
    cyoa::cli::main()
}
