//! The `cyoa` command line: `cyoa new`, `cyoa check`, `cyoa serve`,
//! `cyoa audit`, `cyoa map` and `cyoa backup`. It parses the command line, reads and
//! reports a story, and says where the server is; the settings and their
//! checks are [`crate::settings`], the server's startup
//! [`crate::web::Application::build`].

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::settings::{DEFAULT_REDIS_PREFIX, ServeArgs, Settings};
use crate::store::{Audit, RedisStore, VoteStore};
use crate::story::{Loaded, Story};
use crate::telemetry;
use crate::web::Application;

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
        #[arg(long, env = "CYOA_REDIS_PREFIX", default_value = DEFAULT_REDIS_PREFIX)]
        redis_prefix: String,
        /// Rewrite the counters that drifted from the voter records (one
        /// atomic step per decision; safe while a talk is live).
        #[arg(long)]
        repair: bool,
    },
    /// Copy a data file into BACKUP, consistently, even while a server is
    /// using it (restore: stop the server, put the copy in its place).
    Backup {
        /// Where to write the copy; it must not exist yet.
        backup: PathBuf,
        /// The data file to copy [default: the story's, as `cyoa serve`].
        #[arg(long, env = "CYOA_DATA")]
        data: Option<PathBuf>,
        /// The story whose default data file to copy (as `cyoa serve --story`).
        #[arg(long, env = "CYOA_STORY")]
        story: Option<PathBuf>,
    },
    /// Move the run history between stores (a data file and Redis): export
    /// it to a JSON file, or import one into a store that has no run yet.
    Runs {
        #[command(subcommand)]
        action: RunsAction,
    },
    /// Turn a deck (a PDF, a folder of slide images, or a Markdown deck)
    /// into a linear story, one slide per page, with its images next to it.
    Import {
        /// The deck: a `.pdf`, a folder of `.png`/`.jpg`/`.webp`, or a `.md`.
        input: PathBuf,
        /// The story to write (TOML); its images go in `<name>-slides/`.
        #[arg(short, long)]
        output: PathBuf,
        /// Replace the story and its images folder if they exist.
        #[arg(long)]
        force: bool,
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

/// `cyoa runs export` and `cyoa runs import`.
#[derive(Subcommand, Debug)]
enum RunsAction {
    /// Write every run (slides, path, closed tallies, labels) to FILE, a
    /// new JSON file; a data file may be exported while its server runs.
    Export {
        /// Where to write the runs; it must not exist yet.
        file: PathBuf,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Take the runs in FILE (from `cyoa runs export`) into a store that has
    /// no run yet (a data file no server is using, or a Redis prefix).
    Import {
        /// The runs, as `cyoa runs export` wrote them.
        file: PathBuf,
        #[command(flatten)]
        store: StoreArgs,
    },
}

/// Which store `cyoa runs` reads or writes: a data file (as `cyoa serve`
/// picks it) or Redis.
#[derive(clap::Args, Debug)]
struct StoreArgs {
    /// The data file [default: the story's, as `cyoa serve`].
    #[arg(long, env = "CYOA_DATA")]
    data: Option<PathBuf>,
    /// The story whose default data file to use (as `cyoa serve --story`).
    #[arg(long, env = "CYOA_STORY")]
    story: Option<PathBuf>,
    /// Redis URL (as for `cyoa serve`), instead of a data file.
    #[arg(long, env = "REDIS_URL")]
    redis_url: Option<String>,
    /// Prefix of every Redis key.
    #[arg(long, env = "CYOA_REDIS_PREFIX", default_value = DEFAULT_REDIS_PREFIX)]
    redis_prefix: String,
}

impl StoreArgs {
    /// The store, for reading (`write` false: a data file is read without
    /// its lock, so while its server runs) or writing.
    async fn open(mut self, write: bool) -> Result<VoteStore, String> {
        crate::settings::settle_stores(&mut self.data, &mut self.redis_url, &mut false)?;
        if let Some(url) = self.redis_url {
            return RedisStore::connect(&url, &self.redis_prefix)
                .await
                .map(VoteStore::Redis)
                .map_err(|e| format!("cannot use Redis (--redis-url): {e}"));
        }
        let data = self
            .data
            .unwrap_or_else(|| crate::settings::default_data_file(self.story.as_deref()));
        match write {
            false => crate::store::read_only(&data).map(VoteStore::Memory),
            true => crate::store::EmbeddedStore::open_file(&data, std::time::Duration::ZERO).map(VoteStore::Embedded),
        }
    }
}

/// `cyoa runs export` or `cyoa runs import`.
fn runs(action: RunsAction) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("cyoa: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let done = runtime.block_on(async {
        match action {
            RunsAction::Export { file, store } => {
                let store = store.open(false).await?;
                let n = crate::transfer::export(&store, &file).await?;
                Ok(format!("{}: {n} run(s) exported", file.display()))
            }
            RunsAction::Import { file, store } => {
                let store = store.open(true).await?;
                let n = crate::transfer::import(&store, &file).await?;
                store.stopped().await;
                Ok(format!("{}: {n} run(s) imported", file.display()))
            }
        }
    });
    match done {
        Ok(said) => {
            println!("{said}");
            ExitCode::SUCCESS
        }
        Err(why) => {
            let why: String = why;
            eprintln!("cyoa: {why}");
            ExitCode::FAILURE
        }
    }
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
        Some(Command::Runs { action }) => runs(action),
        Some(Command::Backup { backup, data, story }) => {
            let data = data.unwrap_or_else(|| crate::settings::default_data_file(story.as_deref()));
            match crate::store::backup(&data, &backup) {
                Ok(()) => {
                    println!("{}: a copy of {}", backup.display(), data.display());
                    ExitCode::SUCCESS
                }
                Err(why) => {
                    eprintln!("cyoa: {why}");
                    ExitCode::FAILURE
                }
            }
        }
        Some(Command::Import { input, output, force }) => crate::import::main(&input, &output, force),
        None => serve(cli.serve),
    }
}

/// `cyoa new`: writes the starter story to `file`, refusing to replace
/// anything already there (the check and the creation are one step).
fn new_story(file: &Path) -> ExitCode {
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

/// Reads a story (`None`: the bundled talk) and reports it on stderr:
/// its warnings, or every problem, one `FILE:LINE:COL: error: MESSAGE`
/// line each. `None` when it does not check.
fn read_story(file: Option<&Path>) -> Option<Story> {
    let loaded = match file {
        Some(file) => Story::load(file),
        None => Story::bundled(),
    };
    match loaded {
        Ok(Loaded { story, warnings }) => {
            for w in &warnings {
                eprintln!("{w}");
            }
            Some(story)
        }
        Err(problems) => {
            for p in &problems {
                eprintln!("{p}");
            }
            None
        }
    }
}

/// `cyoa check`: every file is checked, even after one fails. A good story
/// prints its summary on stdout (warnings on stderr); a bad one prints every
/// problem on stderr.
fn check(files: &[PathBuf]) -> ExitCode {
    let mut ok = true;
    for file in files {
        match read_story(Some(file)) {
            Some(story) => {
                println!("{}: ok: {}", file.display(), story.summary());
                println!("{}: time: {}", file.display(), story.timing());
            }
            None => ok = false,
        }
    }
    if ok { ExitCode::SUCCESS } else { ExitCode::FAILURE }
}

/// `cyoa map`: a story that does not check prints its problems (as `cyoa
/// check` does) and writes nothing.
fn map(file: &Path, output: &Path) -> ExitCode {
    let Some(story) = read_story(Some(file)) else {
        return ExitCode::FAILURE;
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

/// `cyoa serve`: the settings are checked before the story is read, and
/// both before anything connects or binds.
fn serve(args: ServeArgs) -> ExitCode {
    let mut settings = match Settings::from_args(args) {
        Ok(settings) => settings,
        Err(why) => {
            eprintln!("cyoa: {why}");
            return ExitCode::FAILURE;
        }
    };
    // With a data file, the secret made at the first start is the secret
    // of every later one: voters keep their identity across restarts.
    if let Err(why) = settings.keep_secret() {
        eprintln!("cyoa: {why}");
        return ExitCode::FAILURE;
    }
    let Some(story) = read_story(settings.story.file.as_deref()) else {
        eprintln!("cyoa: the story has problems; fix them and start again");
        return ExitCode::FAILURE;
    };
    telemetry::init(settings.log_format);
    // Every audience socket is a file.
    crate::open_files::raise();
    match server_runtime() {
        Ok(runtime) => runtime.block_on(run_server(settings, story)),
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
        if d.counter == "present" {
            // The Redis store's set of presence voters (audit.lua).
            out += &format!(
                "run {}, decision {:?}: the presence set holds {counted} voter(s), not the {} presence vote(s) of the voter records{}\n",
                d.run,
                d.decision,
                d.recorded,
                if repair { " (repaired)" } else { "" }
            );
            continue;
        }
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

/// Scheduler ticks between two looks at the runtime's shared queue, and
/// between two polls of its I/O driver, when tasks are always ready.
const SHARED_QUEUE_EVERY: u32 = 2;
const IO_EVENTS_EVERY: u32 = 512;

/// The server's runtime, tuned to be fair to the audience's sockets. Flat
/// out, thousands of socket tasks are ready at once: more than a worker's
/// own queue holds, so the rest wait in the shared queue. With tokio's
/// defaults a worker looks there once every 31 ticks or so, and polls the
/// I/O driver every 61, whose newly ready sockets go to its own queue,
/// ahead of those waiting. Half the votes were answered in 20 ms and the
/// rest in up to 800. Looking at the shared queue every other tick, and
/// for new events less often, serves the sockets nearer their order of
/// arrival: the same rate, and the slowest votes sooner (the probes' p99
/// flat out from about 650 to about 400 ms; docs/performance.md, "The push
/// lane, probes and a fair runtime").
fn server_runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .global_queue_interval(SHARED_QUEUE_EVERY)
        .event_interval(IO_EVENTS_EVERY)
        .build()
}

/// Starts the server and says where it is, then serves until stopped.
async fn run_server(settings: Settings, story: Story) -> ExitCode {
    if settings.sms.insecure_skip_signature {
        eprintln!(
            "cyoa: WARNING: --insecure-skip-twilio-signature: /sms takes texts without checking \
             Twilio's signature, so anyone who can reach it can vote as any phone. \
             Use it for local experiments only, never in front of an audience."
        );
    }
    let generated = settings.secrets.generated_token;
    let title = story.title.clone();
    let app = match Application::build(settings, story).await {
        Ok(app) => app,
        Err(e) => {
            eprintln!("cyoa: {e}");
            return ExitCode::FAILURE;
        }
    };
    // A closed standard output (`cyoa serve | head -2`) loses these
    // lines, never the talk: a failed write is ignored, not a panic.
    let mut out = std::io::stdout().lock();
    for line in start_lines(&app, generated) {
        if writeln!(out, "{line}").is_err() {
            break;
        }
    }
    let _ = out.flush();
    drop(out);
    tracing::info!(story = %title, port = app.port(), public_url = app.public_url(), "serving");
    match app.run_until_stopped().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("cyoa: the server stopped: {e}");
            ExitCode::FAILURE
        }
    }
}

/// What `cyoa serve` prints at start, one line each: the URLs, then how it
/// runs; last, the loopback hint, so that it stays in view.
fn start_lines(app: &Application, generated: bool) -> Vec<String> {
    let mut lines = Vec::new();
    lines.push(match generated {
        true => format!("presenter: {}", app.presenter_url()),
        false => format!(
            "presenter: {} (log in with ?token= and the token you set)",
            app.presenter_page()
        ),
    });
    lines.push(format!("audience: {}", app.audience_url()));
    lines.push(match app.sms_enabled() {
        true => format!(
            "sms: on; set the Twilio number's Messaging webhook to {} (HTTP POST)",
            app.sms_url()
        ),
        false => "sms: off (start with --twilio-auth-token or TWILIO_AUTH_TOKEN to take votes by text)".into(),
    });
    if app.room_code() {
        lines.push(
            "room code: on; the presenter's join panel shows it and its QR code carries it, new with each run".into(),
        );
    }
    if app.sms_results() {
        lines.push("sms results: on; each SMS voter is texted the outcome when a decision closes".into());
    }
    if let Some(path) = app.watched() {
        lines.push(format!("watch: on; saving {} reloads the story", path.display()));
    }
    lines.push(match app.data_file() {
        // In full, so the presenter finds it whatever folder they are in.
        Some(path) => format!(
            "data: {} (runs and votes are kept there; --memory keeps nothing)",
            std::path::absolute(path)
                .unwrap_or_else(|_| path.to_path_buf())
                .display()
        ),
        None => format!("data: {}", app.store_kind()),
    });
    if app.local_addr().ip().is_unspecified() {
        lines.push(format!("listening: {} (every interface)", app.local_addr()));
    }
    if app.public_url_is_loopback() {
        lines.push(
            "lan: off; phones cannot reach this machine's loopback address: start with --lan to let phones on this network vote"
                .into(),
        );
    }
    lines
}
