//! The `cyoa` command line: `cyoa check` and `cyoa serve`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use std::time::Duration;

use crate::store::{MemoryStore, RedisStore, VoteStore};
use crate::story::{Loaded, Story};
use crate::web::{self, Application, Config};

/// Live audience voting for choose-your-own-adventure talks.
#[derive(Parser, Debug)]
#[command(name = "cyoa", version, about, long_about = None, args_conflicts_with_subcommands = true)]
pub struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// With no subcommand, `cyoa` serves: the same flags as `cyoa serve`.
    #[command(flatten)]
    serve: ServeArgs,
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
        None => serve(cli.serve),
    }
}

fn check(files: &[PathBuf]) -> ExitCode {
    let mut ok = true;
    for file in files {
        match Story::load(file) {
            Ok(Loaded { story, warnings }) => {
                for w in &warnings {
                    eprintln!("{w}");
                }
                println!(
                    "{}: ok: {} slides, {} decisions",
                    file.display(),
                    story.slides.len(),
                    story.decisions().count()
                );
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
    init_tracing();
    match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime.block_on(run_server(args, story)),
        Err(e) => {
            eprintln!("cyoa: cannot start the async runtime: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Logs to stderr; `RUST_LOG` overrides the default level.
fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("cyoa=info,tower_http=warn"));
    // A second init (tests calling serve twice) keeps the first subscriber.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

/// 128 random bits as hex: the default token and secret.
fn random_hex() -> String {
    format!("{:032x}", rand::random::<u128>())
}

async fn run_server(args: ServeArgs, story: Story) -> ExitCode {
    let store = match &args.redis_url {
        Some(url) => match RedisStore::connect(url, &args.redis_prefix).await {
            Ok(store) => VoteStore::Redis(store),
            Err(e) => {
                // The URL may hold a password: it is not repeated here.
                eprintln!("cyoa: cannot use Redis (--redis-url): {e}");
                return ExitCode::FAILURE;
            }
        },
        None => VoteStore::Memory(MemoryStore::new()),
    };
    let presenter_token = match args.presenter_token {
        Some(t) if t.trim().is_empty() => {
            eprintln!("cyoa: --presenter-token is empty; give a token or leave it out for a random one");
            return ExitCode::FAILURE;
        }
        Some(t) => t,
        None => random_hex(),
    };
    // Two random halves: 256 bits for the cookie key.
    let secret = args.secret.unwrap_or_else(|| random_hex() + &random_hex());
    let title = story.title.clone();
    let config = Config {
        story,
        store,
        bind: args.bind.clone(),
        public_url: args.public_url,
        presenter_token,
        secret,
        presence_grace: args.presence_grace.map(Duration::from_secs),
        static_dir: web::default_static_dir(),
    };
    let app = match Application::build(config).await {
        Ok(app) => app,
        Err(e) => {
            eprintln!("cyoa: cannot serve on {}: {e}", args.bind);
            return ExitCode::FAILURE;
        }
    };
    println!("presenter: {}", app.presenter_url());
    println!("audience: {}", app.audience_url());
    tracing::info!(story = %title, port = app.port(), public_url = app.public_url(), "serving");
    match app.run_until_stopped().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("cyoa: the server stopped: {e}");
            ExitCode::FAILURE
        }
    }
}
