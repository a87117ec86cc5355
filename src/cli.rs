//! The `cyoa` command line: `cyoa check` and `cyoa serve`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use crate::story::{Loaded, Story};

/// Live audience voting for choose-your-own-adventure talks.
#[derive(Parser, Debug)]
#[command(name = "cyoa", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Check story files; print a summary, or every problem found.
    Check {
        /// Story files (TOML).
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Serve a story to a presenter and an audience (the default).
    Serve(ServeArgs),
}

/// Options of `cyoa serve`; each may also come from the environment.
#[derive(Args, Debug, Clone, Default)]
pub struct ServeArgs {
    /// Story file to serve [default: the bundled talk].
    #[arg(long, env = "CYOA_STORY")]
    pub story: Option<PathBuf>,
    /// Address to listen on.
    #[arg(long, env = "CYOA_BIND", default_value = "127.0.0.1:8080")]
    pub bind: String,
    /// Base URL the audience uses, for links and QR codes [default: from --bind].
    #[arg(long, env = "CYOA_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// Redis URL; without it votes are kept in memory.
    #[arg(long, env = "REDIS_URL")]
    pub redis_url: Option<String>,
    /// Prefix of every Redis key.
    #[arg(long, env = "CYOA_REDIS_PREFIX", default_value = "cyoa:")]
    pub redis_prefix: String,
    /// Presenter token [default: a random one, printed at start].
    #[arg(long, env = "CYOA_PRESENTER_TOKEN", hide_env_values = true)]
    pub presenter_token: Option<String>,
    /// Key that signs cookies and hashes phone numbers [default: random; set
    /// it when several instances serve one talk].
    #[arg(long, env = "CYOA_SECRET", hide_env_values = true)]
    pub secret: Option<String>,
    /// Seconds a web vote outlives its voter's last open page [default: the story's].
    #[arg(long, env = "CYOA_PRESENCE_GRACE")]
    pub presence_grace: Option<u64>,
}

/// Runs the command line; the binary's `main`.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Some(Command::Check { files }) => check(&files),
        Some(Command::Serve(args)) => serve(args),
        None => serve(ServeArgs {
            bind: "127.0.0.1:8080".into(),
            redis_prefix: "cyoa:".into(),
            ..Default::default()
        }),
    }
}

/// `cyoa check`: every file is checked, even after one fails. A good story
/// prints its summary on stdout (warnings on stderr); a bad one prints every
/// problem on stderr, one `FILE:LINE:COL: error: MESSAGE` line each.
fn check(files: &[PathBuf]) -> ExitCode {
    let mut ok = true;
    for file in files {
        match Story::load(file) {
            Ok(Loaded { story, warnings }) => {
                for w in &warnings {
                    eprintln!("{w}");
                }
                println!("{}: ok: {}", file.display(), story.summary());
            }
            Err(problems) => {
                ok = false;
                for p in &problems {
                    eprintln!("{p}");
                }
            }
        }
    }
    if ok { ExitCode::SUCCESS } else { ExitCode::FAILURE }
}

fn serve(args: ServeArgs) -> ExitCode {
    let loaded = match &args.story {
        Some(path) => Story::load(path),
        None => Story::bundled(),
    };
    let story = match loaded {
        Ok(Loaded { story, warnings }) => {
            for w in &warnings {
                eprintln!("{w}");
            }
            story
        }
        Err(problems) => {
            for p in &problems {
                eprintln!("{p}");
            }
            eprintln!("cyoa: the story has problems; fix them and start again");
            return ExitCode::FAILURE;
        }
    };
    eprintln!(
        "cyoa: serving {:?} ({} slides); the server is not written yet",
        story.title,
        story.slides.len()
    );
    ExitCode::FAILURE
}
