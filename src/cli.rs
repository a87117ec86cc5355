//! The `cyoa` command line: `cyoa new`, `cyoa check`, `cyoa serve`,
//! `cyoa audit` and `cyoa map`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use std::time::Duration;

use crate::store::{Audit, MemoryStore, RedisStore, VoteStore};
use crate::story::{Loaded, Story};
use crate::telemetry::{self, LogFormat};
use crate::web::limits::LimitArgs;
use crate::web::{self, Application, Config, SmsOptions};

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
// Parsed once per process: the size of the serve variant does not matter.
#[allow(clippy::large_enum_variant)]
enum Command {
    /// Write a starter story (a decision, two endings, notes, a comment on
    /// every field) to FILE; never overwrites a file.
    New {
        /// Where to write it (TOML); it must not exist yet.
        file: PathBuf,
    },
    /// Check story files; print a summary, or every problem found.
    Check {
        /// Story files (TOML).
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Serve a story to a presenter and an audience (the default).
    Serve(Box<ServeArgs>),
    /// Recount every counter in Redis from the voter records and report any
    /// drift (exit status 1 when there is some); --repair fixes it.
    Audit {
        /// Redis URL (as for `cyoa serve`).
        #[arg(long, env = "REDIS_URL")]
        redis_url: String,
        /// Prefix of every Redis key.
        #[arg(long, env = "CYOA_REDIS_PREFIX", default_value = "cyoa:")]
        redis_prefix: String,
        /// Rewrite the counters that drifted from the voter records (one
        /// atomic step per decision; safe while a talk is live).
        #[arg(long)]
        repair: bool,
    },
    /// Draw a story's map (slides and choices) as an SVG, after checking it.
    Map {
        /// Story file (TOML).
        file: PathBuf,
        /// Where to write the SVG ("-": standard output).
        #[arg(short, long, default_value = "-")]
        output: PathBuf,
    },
}

/// Options of `cyoa serve`; each may also come from the environment.
#[derive(Args, Debug, Clone, Default)]
pub struct ServeArgs {
    /// Story file to serve [default: the bundled talk].
    #[arg(long, env = "CYOA_STORY")]
    pub story: Option<PathBuf>,
    /// Load the story file again whenever it changes (needs --story); an
    /// edit that does not check is shown on the presenter view, not served.
    #[arg(long, env = "CYOA_WATCH")]
    pub watch: bool,
    /// Address to listen on.
    #[arg(long, env = "CYOA_BIND", default_value = "127.0.0.1:8080")]
    pub bind: String,
    /// Base URL the audience uses, for links and QR codes [default: from --bind].
    #[arg(long, env = "CYOA_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// Redis URL (`redis://HOST:PORT/`, or `redis+sentinel://HOST:PORT[,HOST:PORT]/NAME`
    /// to follow Sentinel failovers); without it votes are kept in memory.
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
    /// Joining needs the room code shown on the presenter's join panel (and
    /// carried by its QR code), new with each run; as the story's
    /// `room_code = true`.
    #[arg(long, env = "CYOA_ROOM_CODE")]
    pub room_code: bool,
    /// Twilio auth token: turns SMS voting on (Twilio posts texts to /sms).
    #[arg(long, env = "TWILIO_AUTH_TOKEN", hide_env_values = true)]
    pub twilio_auth_token: Option<String>,
    /// The Twilio number the audience texts, shown on the pages.
    #[arg(long, env = "TWILIO_NUMBER")]
    pub sms_number: Option<String>,
    /// Take texts on /sms without checking Twilio's signature: anyone can
    /// then vote as any phone. For local experiments only.
    #[arg(long)]
    pub insecure_skip_twilio_signature: bool,
    /// Text each SMS voter the outcome when a decision closes (their number
    /// is then kept, encrypted, until sent). Needs --twilio-account-sid.
    #[cfg(feature = "sms-outbound")]
    #[arg(long, env = "CYOA_SMS_RESULTS")]
    pub sms_results: bool,
    /// Twilio account SID (AC...): /sms takes only this account's texts;
    /// --sms-results texts from it.
    #[arg(long, env = "TWILIO_ACCOUNT_SID")]
    pub twilio_account_sid: Option<String>,
    /// Results texts per second at most, per instance.
    #[cfg(feature = "sms-outbound")]
    #[arg(long, env = "CYOA_SMS_RESULTS_PER_SECOND", default_value = "1")]
    pub sms_results_per_second: u32,
    /// Attempts per results text before it is given up.
    #[cfg(feature = "sms-outbound")]
    #[arg(long, env = "CYOA_SMS_RESULTS_ATTEMPTS", default_value = "5")]
    pub sms_results_attempts: u32,
    /// Base URL of Twilio's REST API (a fake one for tests).
    #[cfg(feature = "sms-outbound")]
    #[arg(long, env = "TWILIO_API_URL", default_value = crate::sms::outbound::TWILIO_API, hide = true)]
    pub twilio_api_url: String,
    /// Log lines as readable text or as JSON objects (levels from RUST_LOG).
    #[arg(long, env = "CYOA_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// Rate, size, connection and timeout limits (docs/operations.md).
    #[command(flatten)]
    pub limits: LimitArgs,
}

/// Runs the command line; the binary's `main`.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Some(Command::New { file }) => new_story(&file),
        Some(Command::Check { files }) => check(&files),
        Some(Command::Serve(args)) => serve(*args),
        Some(Command::Audit {
            redis_url,
            redis_prefix,
            repair,
        }) => audit(&redis_url, &redis_prefix, repair),
        Some(Command::Map { file, output }) => map(&file, &output),
        None => serve(cli.serve),
    }
}

/// `cyoa new`: writes the starter story to `file`, refusing to replace
/// anything already there (the check and the creation are one step).
fn new_story(file: &std::path::Path) -> ExitCode {
    use std::io::Write;
    let created = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(file)
        .and_then(|mut f| f.write_all(crate::story::STARTER_TEXT.as_bytes()));
    match created {
        Ok(()) => {
            println!("{}: written; a starter story to edit", file.display());
            println!("check it:   cyoa check {}", file.display());
            println!("present it: cyoa serve --story {} --watch", file.display());
            ExitCode::SUCCESS
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            eprintln!(
                "cyoa: {} already exists; `cyoa new` never overwrites a file: give another name, or move that file away first",
                file.display()
            );
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("cyoa: cannot write {}: {e}", file.display());
            ExitCode::FAILURE
        }
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

/// `cyoa map`: a story that does not check prints its problems (as `cyoa
/// check` does) and writes nothing.
fn map(file: &std::path::Path, output: &std::path::Path) -> ExitCode {
    let story = match Story::load(file) {
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
            return ExitCode::FAILURE;
        }
    };
    let svg = crate::map::render(&story, crate::map::MapOptions::default());
    let written = if output.as_os_str() == "-" {
        std::io::Write::write_all(&mut std::io::stdout(), svg.as_bytes())
    } else {
        std::fs::write(output, svg)
    };
    match written {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("cyoa: cannot write the map to {}: {e}", output.display());
            ExitCode::FAILURE
        }
    }
}

fn serve(args: ServeArgs) -> ExitCode {
    if args.watch && args.story.is_none() {
        eprintln!("cyoa: --watch needs the story file to watch: add --story FILE");
        return ExitCode::FAILURE;
    }
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
    telemetry::init(args.log_format);
    match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime.block_on(run_server(args, story)),
        Err(e) => {
            eprintln!("cyoa: cannot start the async runtime: {e}");
            ExitCode::FAILURE
        }
    }
}

fn audit(url: &str, prefix: &str, repair: bool) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("cyoa: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let found = runtime.block_on(async {
        let store = RedisStore::connect(url, prefix).await?;
        VoteStore::Redis(store).audit(repair).await
    });
    let audit = match found {
        Ok(audit) => audit,
        Err(e) => {
            eprintln!("cyoa: cannot audit (--redis-url): {e}");
            return ExitCode::FAILURE;
        }
    };
    print!("{}", audit_report(&audit, repair));
    if audit.drift.is_empty() || repair {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// What `cyoa audit` prints: one line per counter that drifted, then a
/// summary.
pub fn audit_report(audit: &Audit, repair: bool) -> String {
    let mut out = String::new();
    for d in &audit.drift {
        let counted = d.counted.as_deref().unwrap_or("nothing");
        let counter = if d.counter == "frozen" { "closed tally" } else { "tally" };
        out += &format!(
            "run {}, decision {:?}, choice {:?}: the {counter} says {counted}, the voter records say {}{}\n",
            d.run,
            d.decision,
            d.choice,
            d.recorded,
            if repair { " (repaired)" } else { "" }
        );
    }
    let checked = format!("{} decision(s) checked", audit.decisions);
    out += &match (audit.drift.len(), repair) {
        (0, _) => format!("no drift: {checked}\n"),
        (n, false) => format!("drift in {n} counter(s), {checked}; `cyoa audit --repair` rewrites them\n"),
        (n, true) => format!("repaired {n} counter(s), {checked}\n"),
    };
    out
}

/// 128 random bits as hex: the default token and secret.
fn random_hex() -> String {
    format!("{:032x}", rand::random::<u128>())
}

async fn run_server(args: ServeArgs, story: Story) -> ExitCode {
    // Without the feature every field is named: the update is for its field.
    #[cfg_attr(not(feature = "sms-outbound"), allow(clippy::needless_update))]
    #[cfg_attr(not(feature = "sms-outbound"), allow(unused_mut))]
    let mut sms = SmsOptions {
        auth_token: args.twilio_auth_token.clone(),
        number: args.sms_number.clone(),
        insecure_skip_signature: args.insecure_skip_twilio_signature,
        account_sid: args.twilio_account_sid.clone(),
        ..SmsOptions::default()
    };
    #[cfg(feature = "sms-outbound")]
    if args.sms_results {
        match results_config(&args) {
            Ok(results) => sms.results = Some(results),
            Err(why) => {
                eprintln!("cyoa: {why}");
                return ExitCode::FAILURE;
            }
        }
    }
    // Before anything connects: a short token is a mistake to fix now.
    if let Some(token) = &args.presenter_token
        && let Err(why) = web::auth::check_token(token)
    {
        eprintln!("cyoa: {why}");
        return ExitCode::FAILURE;
    }
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
    // A token cyoa made is printed in the presenter URL, one the operator
    // set is not: they have it, and it may sit in a terminal's scrollback
    // or a log collector.
    let (presenter_token, generated) = match args.presenter_token {
        Some(t) => (t, false),
        None => (random_hex(), true),
    };
    // Two random halves: 256 bits for the cookie key.
    let secret = args.secret.clone().unwrap_or_else(|| random_hex() + &random_hex());
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
        sms,
        room_code: args.room_code,
    };
    if args.insecure_skip_twilio_signature {
        eprintln!(
            "cyoa: WARNING: --insecure-skip-twilio-signature: /sms takes texts without checking \
             Twilio's signature, so anyone who can reach it can vote as any phone. \
             Use it for local experiments only, never in front of an audience."
        );
    }
    let app = match Application::build_with(config, (&args.limits).into()).await {
        Ok(app) => app,
        Err(e) => {
            eprintln!("cyoa: cannot serve on {}: {e}", args.bind);
            return ExitCode::FAILURE;
        }
    };
    if generated {
        println!("presenter: {}", app.presenter_url());
    } else {
        println!(
            "presenter: {} (log in with ?token= and the token you set)",
            app.presenter_page()
        );
    }
    println!("audience: {}", app.audience_url());
    if app.sms_enabled() {
        println!(
            "sms: on; set the Twilio number's Messaging webhook to {} (HTTP POST)",
            app.sms_url()
        );
    } else {
        println!("sms: off (start with --twilio-auth-token or TWILIO_AUTH_TOKEN to take votes by text)");
    }
    if app.room_code() {
        println!("room code: on; the presenter's join panel shows it and its QR code carries it, new with each run");
    }
    if app.sms_results() {
        println!("sms results: on; each SMS voter is texted the outcome when a decision closes");
    }
    if let Some(path) = args.story.clone().filter(|_| args.watch) {
        println!("watch: on; saving {} reloads the story", path.display());
        tokio::spawn(web::reload::watch(app.state(), path));
    }
    tracing::info!(story = %title, port = app.port(), public_url = app.public_url(), "serving");
    match app.run_until_stopped().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("cyoa: the server stopped: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The outbound settings of `--sms-results`, or why they are incomplete.
#[cfg(feature = "sms-outbound")]
fn results_config(args: &ServeArgs) -> Result<crate::sms::outbound::OutboundConfig, String> {
    let need = |what: &str| format!("--sms-results needs {what}");
    let auth_token = args
        .twilio_auth_token
        .clone()
        .filter(|t| !t.is_empty())
        .ok_or_else(|| need("the Twilio auth token (--twilio-auth-token or TWILIO_AUTH_TOKEN)"))?;
    let account_sid = args
        .twilio_account_sid
        .clone()
        .filter(|s| !s.is_empty())
        .ok_or_else(|| need("the Twilio account SID (--twilio-account-sid or TWILIO_ACCOUNT_SID)"))?;
    let from = args
        .sms_number
        .clone()
        .filter(|n| !n.trim().is_empty())
        .ok_or_else(|| need("the number to text from (--sms-number or TWILIO_NUMBER)"))?;
    Ok(crate::sms::outbound::OutboundConfig {
        api_base: args.twilio_api_url.clone(),
        account_sid,
        auth_token: crate::sms::Secret::new(auth_token),
        from,
        per_second: std::num::NonZeroU32::new(args.sms_results_per_second)
            .ok_or_else(|| "--sms-results-per-second must be at least 1".to_string())?,
        max_attempts: args.sms_results_attempts.max(1),
        first_retry: std::time::Duration::from_secs(2),
    })
}
