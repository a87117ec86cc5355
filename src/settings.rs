//! What `cyoa serve` runs with: the flags and environment variables
//! ([`ServeArgs`]), turned into one checked [`Settings`].
//!
//! Every flag's default is defined once, as a constant here or in
//! [`crate::web::limits`], and clap shows and uses that same constant.
//! Every check of the settings is in [`Settings::validate`]: the command
//! line runs it before anything connects or binds, and
//! [`crate::web::Application::build`] runs it again, so a server built
//! by hand (the tests, the benchmarks) is held to the same rules.
//! The settings say where the store and the story are; connecting to the
//! one and watching the other is the application's startup.

use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::Args;

use crate::store::{EmbeddedStore, MemoryStore, RedisStore, VoteStore};
use crate::telemetry::LogFormat;
use crate::web::limits::{LimitArgs, Limits};

/// Where `cyoa serve` listens unless `--bind` says otherwise.
pub const DEFAULT_BIND: &str = "127.0.0.1:8080";
/// The prefix of every Redis key unless `--redis-prefix` says otherwise.
pub const DEFAULT_REDIS_PREFIX: &str = "cyoa:";
/// Results texts per second per instance (`--sms-results-per-second`): a
/// US long code sends about one a second.
#[cfg(feature = "sms-outbound")]
pub const RESULTS_PER_SECOND: u32 = 1;
/// Attempts per results text (`--sms-results-attempts`).
#[cfg(feature = "sms-outbound")]
pub const RESULTS_ATTEMPTS: u32 = 5;
/// The wait before a results text is tried again; each next one doubles it.
#[cfg(feature = "sms-outbound")]
pub const RESULTS_FIRST_RETRY: Duration = Duration::from_secs(2);

/// Options of `cyoa serve`; each may also come from the environment.
#[derive(Args, Debug, Clone)]
pub struct ServeArgs {
    /// Story file to serve [default: the bundled talk].
    #[arg(long, env = "CYOA_STORY")]
    pub story: Option<PathBuf>,
    /// Load the story file again whenever it changes (needs --story); an
    /// edit that does not check is shown on the presenter view, not served.
    #[arg(long, env = "CYOA_WATCH")]
    pub watch: bool,
    /// Address to listen on.
    #[arg(long, env = "CYOA_BIND", default_value = DEFAULT_BIND)]
    pub bind: String,
    /// Base URL the audience uses, for links and QR codes [default: from --bind].
    #[arg(long, env = "CYOA_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// Serve the phones on this network: listen on every interface (at
    /// --bind's port) and show this machine's LAN address in the audience
    /// URL and QR code (--public-url, when given, is shown instead).
    #[arg(long, env = "CYOA_LAN")]
    pub lan: bool,
    /// Redis URL (`redis://HOST:PORT/`, or `redis+sentinel://HOST:PORT[,HOST:PORT]/NAME`
    /// to follow Sentinel failovers), for several instances; without it
    /// runs and votes are kept in the data file (--data).
    #[arg(long, env = "REDIS_URL")]
    pub redis_url: Option<String>,
    /// The data file that keeps runs and votes (SQLite), made if missing
    /// [default: one per story file, under $XDG_DATA_HOME/cyoa or
    /// ~/.local/share/cyoa; printed at start].
    #[arg(long, env = "CYOA_DATA")]
    pub data: Option<PathBuf>,
    /// Keep runs and votes in memory only: lost when the server stops
    /// (tests and benchmarks).
    #[arg(long, env = "CYOA_MEMORY")]
    pub memory: bool,
    /// Prefix of every Redis key.
    #[arg(long, env = "CYOA_REDIS_PREFIX", default_value = DEFAULT_REDIS_PREFIX)]
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
    #[arg(long, env = "CYOA_SMS_RESULTS_PER_SECOND", default_value_t = RESULTS_PER_SECOND)]
    pub sms_results_per_second: u32,
    /// Attempts per results text before it is given up.
    #[cfg(feature = "sms-outbound")]
    #[arg(long, env = "CYOA_SMS_RESULTS_ATTEMPTS", default_value_t = RESULTS_ATTEMPTS)]
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

/// Everything `cyoa serve` runs with, checked ([`Settings::validate`]).
/// [`Settings::new`] gives the defaults; every group may be changed.
pub struct Settings {
    /// Where it listens and what the audience sees as its address.
    pub server: Server,
    /// The presenter token and the key of cookies and phone hashes.
    pub secrets: Secrets,
    /// The story file, if any, and whether it is watched.
    pub story: StorySource,
    /// Where votes are kept.
    pub store: StoreChoice,
    /// Rates, sizes, connections and timeouts.
    pub limits: Limits,
    /// Votes by text message; off by default.
    pub sms: SmsSettings,
    /// How the room takes part, over what the story says.
    pub room: RoomSettings,
    /// How log lines are written.
    pub log_format: LogFormat,
}

/// Where the server listens and how the world reaches it.
pub struct Server {
    /// Address to listen on (`127.0.0.1:0` picks a free port).
    pub bind: String,
    /// Base URL the audience uses; `None`: `http://` and the bound address
    /// (with `lan`, this machine's LAN address).
    pub public_url: Option<String>,
    /// `--lan`: listen on every interface at `bind`'s port.
    pub lan: bool,
    /// Directory served at `/static`.
    pub static_dir: PathBuf,
}

/// The secrets; they never appear in logs or pages.
pub struct Secrets {
    /// The presenter token; at least [`crate::web::auth::MIN_TOKEN_CHARS`]
    /// characters.
    pub presenter_token: String,
    /// Whether cyoa made the token: only then is it printed at start (the
    /// operator has one they set, and it may sit in a log collector).
    pub generated_token: bool,
    /// Signs cookies, keys phone hashes and room codes; any length, the
    /// longer the better.
    pub secret: String,
    /// Whether cyoa made the secret (no `--secret`): with a data file it
    /// is then kept beside it ([`Settings::keep_secret`]).
    pub generated_secret: bool,
}

/// The story file.
#[derive(Debug, Clone, Default)]
pub struct StorySource {
    /// `--story`; `None`: the bundled talk (or one a test gives).
    pub file: Option<PathBuf>,
    /// `--watch`: the file is loaded again whenever it changes.
    pub watch: bool,
}

impl StorySource {
    /// The file to watch, when `--watch` is on.
    pub fn watched(&self) -> Option<&PathBuf> {
        self.file.as_ref().filter(|_| self.watch)
    }
}

/// Where runs and votes are kept.
pub enum StoreChoice {
    /// In this process; lost when it stops.
    Memory,
    /// In this process and in an SQLite file (`--data`), every change
    /// committed before it is acknowledged.
    Embedded {
        /// The data file.
        path: PathBuf,
    },
    /// In Redis, connected at startup. The URL may hold a password: it is
    /// never printed.
    Redis {
        /// `--redis-url`.
        url: String,
        /// `--redis-prefix`.
        prefix: String,
    },
    /// A store already open (tests, and servers that share one).
    Open(VoteStore),
}

impl StoreChoice {
    /// The store, connected; the error says which flag to look at.
    /// `grace` is the presence grace: after a restart on a data file, each
    /// presence vote stands that long for its page to come back.
    pub async fn open(self, grace: Duration) -> Result<VoteStore, String> {
        match self {
            StoreChoice::Memory => Ok(VoteStore::Memory(MemoryStore::new())),
            StoreChoice::Embedded { path } => {
                tokio::task::spawn_blocking(move || EmbeddedStore::open_file(&path, grace))
                    .await
                    .map_err(|e| format!("cannot open the data file: {e}"))?
                    .map(VoteStore::Embedded)
                    .map_err(|e| format!("cannot use the data file (--data): {e}"))
            }
            StoreChoice::Redis { url, prefix } => RedisStore::connect(&url, &prefix)
                .await
                .map(VoteStore::Redis)
                // The URL may hold a password: it is not repeated here.
                .map_err(|e| format!("cannot use Redis (--redis-url): {e}")),
            StoreChoice::Open(store) => Ok(store),
        }
    }
}

/// How cyoa takes votes by text message (the `--twilio-*` and `--sms-*`
/// flags). The default is off.
#[derive(Clone, Default)]
pub struct SmsSettings {
    /// Twilio's auth token: with it, `/sms` takes signed webhooks.
    pub auth_token: Option<String>,
    /// The number to text, shown on the pages.
    pub number: Option<String>,
    /// Takes unsigned webhooks: local experiments only.
    pub insecure_skip_signature: bool,
    /// The Twilio account SID (`AC…`): `/sms` then takes only this
    /// account's webhooks, and `--sms-results` texts from it.
    pub account_sid: Option<String>,
    /// Texts each SMS voter the outcome when a decision closes
    /// (`--sms-results`); `None`: off.
    #[cfg(feature = "sms-outbound")]
    pub results: Option<crate::sms::outbound::OutboundConfig>,
}

impl std::fmt::Debug for SmsSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmsSettings")
            .field("auth_token", &self.auth_token.as_ref().map(|_| "(set)"))
            .field("number", &self.number)
            .field("insecure_skip_signature", &self.insecure_skip_signature)
            .field("account_sid", &self.account_sid)
            .finish()
    }
}

impl SmsSettings {
    /// Whether results texts are on (`--sms-results`).
    pub fn results_on(&self) -> bool {
        #[cfg(feature = "sms-outbound")]
        return self.results.is_some();
        #[cfg(not(feature = "sms-outbound"))]
        false
    }
}

/// The room's flags, over the story's own settings.
#[derive(Debug, Clone, Default)]
pub struct RoomSettings {
    /// `--room-code`: joining needs the room code, whatever the story says.
    pub room_code: bool,
    /// `--presence-grace`: overrides the story's presence grace.
    pub presence_grace: Option<Duration>,
}

impl Settings {
    /// The defaults, with this presenter token and secret: the bundled
    /// story's settings, a memory store, SMS off, the default limits, on
    /// [`DEFAULT_BIND`].
    pub fn new(presenter_token: impl Into<String>, secret: impl Into<String>) -> Settings {
        Settings {
            server: Server {
                bind: DEFAULT_BIND.into(),
                public_url: None,
                lan: false,
                static_dir: default_static_dir(),
            },
            secrets: Secrets {
                presenter_token: presenter_token.into(),
                generated_token: false,
                secret: secret.into(),
                generated_secret: false,
            },
            story: StorySource::default(),
            store: StoreChoice::Memory,
            limits: Limits::default(),
            sms: SmsSettings::default(),
            room: RoomSettings::default(),
            log_format: LogFormat::Text,
        }
    }

    /// The settings the flags give, checked (see [`settle_stores`] for the
    /// store's three flags). A token or secret left out
    /// is made at random; an empty value (say `TWILIO_AUTH_TOKEN=`) counts
    /// as left out.
    pub fn from_args(mut args: ServeArgs) -> Result<Settings, String> {
        settle_stores(&mut args.data, &mut args.redis_url, &mut args.memory)?;
        let given = |value: Option<String>| value.filter(|v| !v.trim().is_empty());
        let sms = SmsSettings {
            #[cfg(feature = "sms-outbound")]
            results: match args.sms_results {
                true => Some(results_config(&args)?),
                false => None,
            },
            auth_token: given(args.twilio_auth_token),
            number: given(args.sms_number),
            insecure_skip_signature: args.insecure_skip_twilio_signature,
            account_sid: given(args.twilio_account_sid),
        };
        let (presenter_token, generated_token) = match args.presenter_token {
            Some(token) => (token, false),
            None => (random_hex(), true),
        };
        let story_file = args.story.clone();
        let settings = Settings {
            server: Server {
                bind: args.bind,
                public_url: args.public_url,
                lan: args.lan,
                static_dir: default_static_dir(),
            },
            secrets: Secrets {
                presenter_token,
                generated_token,
                generated_secret: args.secret.is_none(),
                // Two random halves: 256 bits for the cookie key.
                secret: args.secret.unwrap_or_else(|| random_hex() + &random_hex()),
            },
            story: StorySource {
                file: args.story,
                watch: args.watch,
            },
            store: match (args.redis_url, args.memory, args.data) {
                (Some(url), _, _) => StoreChoice::Redis {
                    url,
                    prefix: args.redis_prefix,
                },
                (None, true, _) => StoreChoice::Memory,
                (None, false, Some(path)) => StoreChoice::Embedded { path },
                (None, false, None) => StoreChoice::Embedded {
                    path: default_data_file(story_file.as_deref()),
                },
            },
            limits: (&args.limits).into(),
            sms,
            room: RoomSettings {
                room_code: args.room_code,
                presence_grace: args.presence_grace.map(Duration::from_secs),
            },
            log_format: args.log_format,
        };
        settings.validate()?;
        Ok(settings)
    }

    /// With a data file and no `--secret`, the secret cyoa made is kept
    /// in `FILE.secret` beside the data file (readable by its owner only)
    /// and read from there on the next start: voters keep their cookies
    /// and phones their hashes across a restart, so one vote per voter
    /// holds. Returns the file used, if any.
    pub fn keep_secret(&mut self) -> Result<Option<PathBuf>, String> {
        let StoreChoice::Embedded { path } = &self.store else {
            return Ok(None);
        };
        if !self.secrets.generated_secret {
            return Ok(None);
        }
        let mut name = path.as_os_str().to_owned();
        name.push(".secret");
        let file = PathBuf::from(name);
        if let Some(dir) = file.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| format!("cannot make the folder {} for the data file: {e}", dir.display()))?;
        }
        match std::fs::read_to_string(&file) {
            Ok(kept) => {
                let kept = kept.trim();
                if kept.len() < 32 {
                    return Err(format!(
                        "{}: the kept secret is too short or empty; restore it, or pass --secret",
                        file.display()
                    ));
                }
                self.secrets.secret = kept.to_string();
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                use std::io::Write;
                let mut options = std::fs::OpenOptions::new();
                options.write(true).create_new(true);
                #[cfg(unix)]
                std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
                options
                    .open(&file)
                    .and_then(|mut f| f.write_all(format!("{}\n", self.secrets.secret).as_bytes()))
                    .map_err(|e| format!("cannot keep the secret in {}: {e}", file.display()))?;
            }
            Err(e) => return Err(format!("cannot read {}: {e}", file.display())),
        }
        Ok(Some(file))
    }

    /// Every check of the settings, each saying what to change: the
    /// presenter token's length, the public URL's shape, the Twilio
    /// account SID's shape, `--watch` without a file, results texts
    /// without the auth token.
    pub fn validate(&self) -> Result<(), String> {
        if self.story.watch && self.story.file.is_none() {
            return Err("--watch needs the story file to watch: add --story FILE".into());
        }
        crate::web::auth::check_token(&self.secrets.presenter_token)?;
        if let Some(url) = &self.server.public_url {
            public_origin(url)?;
        }
        if let Some(sid) = self
            .sms
            .account_sid
            .as_deref()
            .filter(|s| !crate::sms::is_account_sid(s))
        {
            return Err(format!(
                "the Twilio account SID {sid:?} (--twilio-account-sid) is not one: it is AC followed by \
                 32 hex digits, as the Twilio console shows it"
            ));
        }
        if self.sms.results_on() && self.sms.auth_token.is_none() {
            return Err(results_need(
                "the Twilio auth token (--twilio-auth-token or TWILIO_AUTH_TOKEN)",
            ));
        }
        Ok(())
    }
}

/// `scheme://host[:port]` of a public URL, and whether it is https; or
/// what is wrong with it.
pub fn public_origin(url: &str) -> Result<(String, bool), String> {
    let must = || format!("the public URL {url:?} (--public-url) must start with http:// or https://");
    let (scheme, rest) = url.split_once("://").ok_or_else(must)?;
    let scheme = scheme.to_ascii_lowercase();
    if scheme != "http" && scheme != "https" {
        return Err(must());
    }
    let host = rest.split('/').next().unwrap_or_default();
    if host.is_empty() {
        return Err(format!("the public URL {url:?} (--public-url) has no host"));
    }
    Ok((format!("{scheme}://{}", host.to_ascii_lowercase()), scheme == "https"))
}

/// The `static/` directory: the one in the working directory, else the
/// one beside the sources this binary was built from.
pub fn default_static_dir() -> PathBuf {
    let here = PathBuf::from("static");
    if here.is_dir() {
        here
    } else {
        PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/static"))
    }
}

/// The data file of a story when `--data` is not given: one per story,
/// in `$XDG_DATA_HOME/cyoa/` (else `~/.local/share/cyoa/`, else
/// `./cyoa-data/`). The bundled talk's is `bundled.sqlite3`; a story
/// file's is named after the file and a hash of its full path
/// (`talk-1a2b3c4d.sqlite3`), so two stories never share one, and the same
/// story served again finds its runs.
pub fn default_data_file(story: Option<&Path>) -> PathBuf {
    let dir = std::env::var_os("XDG_DATA_HOME")
        .filter(|d| Path::new(d).is_absolute())
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME")
                .filter(|h| !h.is_empty())
                .map(|h| PathBuf::from(h).join(".local/share"))
        })
        .map(|d| d.join("cyoa"))
        .unwrap_or_else(|| PathBuf::from("cyoa-data"));
    let name = match story {
        None => "bundled.sqlite3".to_string(),
        Some(file) => {
            use sha2::Digest;
            let full = std::fs::canonicalize(file).unwrap_or_else(|_| file.to_path_buf());
            let hash = sha2::Sha256::digest(full.as_os_str().as_encoded_bytes());
            let stem = file
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .filter(|s| !s.is_empty())
                .unwrap_or_else(|| "story".into());
            format!("{stem}-{}.sqlite3", hex::encode(&hash[..4]))
        }
    };
    dir.join(name)
}

/// 128 random bits as hex: the default token and secret.
fn random_hex() -> String {
    format!("{:032x}", rand::random::<u128>())
}

fn results_need(what: &str) -> String {
    format!("--sms-results needs {what}")
}

/// The outbound settings of `--sms-results`, or what they lack.
#[cfg(feature = "sms-outbound")]
fn results_config(args: &ServeArgs) -> Result<crate::sms::outbound::OutboundConfig, String> {
    let given = |value: &Option<String>| value.clone().filter(|v| !v.trim().is_empty());
    let auth_token = given(&args.twilio_auth_token)
        .ok_or_else(|| results_need("the Twilio auth token (--twilio-auth-token or TWILIO_AUTH_TOKEN)"))?;
    let account_sid = given(&args.twilio_account_sid)
        .ok_or_else(|| results_need("the Twilio account SID (--twilio-account-sid or TWILIO_ACCOUNT_SID)"))?;
    let from = given(&args.sms_number)
        .ok_or_else(|| results_need("the number to text from (--sms-number or TWILIO_NUMBER)"))?;
    Ok(crate::sms::outbound::OutboundConfig {
        api_base: args.twilio_api_url.clone(),
        account_sid,
        auth_token: crate::sms::Secret::new(auth_token),
        from,
        per_second: std::num::NonZeroU32::new(args.sms_results_per_second)
            .ok_or_else(|| "--sms-results-per-second must be at least 1".to_string())?,
        max_attempts: args.sms_results_attempts.max(1),
        first_retry: RESULTS_FIRST_RETRY,
    })
}

/// Settles the store flags, which name one store each: `--data`,
/// `--redis-url` and `--memory`. One given on the command line wins over
/// one that only comes from the environment, so `CYOA_DATA` set in a
/// shell profile does not stop `cyoa serve --redis-url ...` (or
/// `cyoa runs import --redis-url ...`); two given the same way, both on
/// the command line or both in the environment, are refused.
pub fn settle_stores(
    data: &mut Option<PathBuf>,
    redis_url: &mut Option<String>,
    memory: &mut bool,
) -> Result<(), String> {
    let env_has = |var: &str, value: &std::ffi::OsStr| std::env::var_os(var).is_some_and(|v| v == value);
    let data_from_env = data.as_ref().is_some_and(|d| env_has("CYOA_DATA", d.as_os_str()));
    let redis_from_env = redis_url.as_ref().is_some_and(|u| env_has("REDIS_URL", u.as_ref()));
    // A flag's environment variable holds "true", "1" or the like.
    let memory_from_env = *memory && std::env::var_os("CYOA_MEMORY").is_some();
    let mut stores = [
        ("--data (CYOA_DATA)", data.is_some(), data_from_env),
        ("--redis-url (REDIS_URL)", redis_url.is_some(), redis_from_env),
        ("--memory (CYOA_MEMORY)", *memory, memory_from_env),
    ];
    let on_command_line = stores.iter().filter(|(_, given, env)| *given && !env).count();
    if on_command_line >= 1 {
        // The command line's choice stands; the environment's give way.
        for (_, given, env) in &mut stores {
            if *env {
                *given = false;
            }
        }
    }
    let chosen: Vec<&str> = stores
        .iter()
        .filter(|(_, given, _)| *given)
        .map(|(name, ..)| *name)
        .collect();
    if chosen.len() > 1 {
        return Err(format!(
            "{} each name a store; give one (a flag on the command line wins over its environment variable)",
            chosen.join(" and ")
        ));
    }
    if !stores[0].1 {
        *data = None;
    }
    if !stores[1].1 {
        *redis_url = None;
    }
    if !stores[2].1 {
        *memory = false;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Parser)]
    struct Flags {
        #[command(flatten)]
        serve: ServeArgs,
    }

    fn settings(flags: &[&str]) -> Result<Settings, String> {
        let flags =
            Flags::try_parse_from(std::iter::once("cyoa").chain(flags.iter().copied())).map_err(|e| e.to_string())?;
        Settings::from_args(flags.serve)
    }

    #[test]
    fn no_flags_give_the_defaults_defined_once() {
        let s = settings(&[]).unwrap();
        assert!(s.secrets.generated_secret);
        assert_eq!(
            s.limits,
            Limits::default(),
            "the flags' defaults are the limits' defaults"
        );
        assert_eq!(s.server.bind, DEFAULT_BIND);
        assert!(
            matches!(&s.store, StoreChoice::Embedded { path } if path.ends_with("bundled.sqlite3")),
            "the default keeps runs in the bundled talk's data file"
        );
        assert!(matches!(settings(&["--memory"]).unwrap().store, StoreChoice::Memory));
        let data = settings(&["--data", "/tmp/talk.sqlite3"]).unwrap();
        assert!(
            matches!(&data.store, StoreChoice::Embedded { path } if path.as_path() == Path::new("/tmp/talk.sqlite3"))
        );
        for both in [
            &["--memory", "--data", "x.sqlite3"][..],
            &["--memory", "--redis-url", "redis://127.0.0.1:1/"],
            &["--data", "x.sqlite3", "--redis-url", "redis://127.0.0.1:1/"],
        ] {
            assert!(settings(both).is_err(), "{both:?} is refused: one store at a time");
        }
        assert!(s.secrets.generated_token);
        assert_eq!(s.secrets.presenter_token.len(), 32);
        assert_eq!(s.secrets.secret.len(), 64);
        assert!(!s.sms.results_on());
        let redis = settings(&["--redis-url", "redis://127.0.0.1:1/"]).unwrap();
        assert!(matches!(redis.store, StoreChoice::Redis { prefix, .. } if prefix == DEFAULT_REDIS_PREFIX));
    }

    #[test]
    fn two_stories_get_two_data_files() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a/talk.toml"), dir.path().join("b/talk.toml"));
        let (fa, fb) = (default_data_file(Some(&a)), default_data_file(Some(&b)));
        assert_ne!(fa, fb, "two stories named alike in two folders");
        assert!(fa.file_name().unwrap().to_string_lossy().starts_with("talk-"), "{fa:?}");
        assert_eq!(fa, default_data_file(Some(&a)), "the same story finds its file again");
        assert_ne!(default_data_file(None), fa);
    }

    #[test]
    fn a_made_secret_is_kept_beside_the_data_file() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("talk.sqlite3");
        let data = data.to_str().unwrap();
        let mut first = settings(&["--data", data]).unwrap();
        let kept = first.keep_secret().unwrap().expect("a secret file");
        let mut second = settings(&["--data", data]).unwrap();
        assert_ne!(first.secrets.secret, second.secrets.secret, "each start makes one");
        assert_eq!(second.keep_secret().unwrap(), Some(kept.clone()));
        assert_eq!(
            first.secrets.secret, second.secrets.secret,
            "the second start reads the first's"
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&kept).unwrap().permissions().mode();
            assert_eq!(mode & 0o077, 0, "readable by its owner only");
        }
        let mut given = settings(&["--data", data, "--secret", "an operator's own secret"]).unwrap();
        assert_eq!(given.keep_secret().unwrap(), None, "--secret wins, nothing read");
        assert_eq!(given.secrets.secret, "an operator's own secret");
        let mut memory = settings(&["--memory"]).unwrap();
        assert_eq!(memory.keep_secret().unwrap(), None);
    }

    #[test]
    fn an_empty_value_counts_as_left_out() {
        let s = settings(&[
            "--twilio-auth-token",
            "",
            "--sms-number",
            " ",
            "--twilio-account-sid",
            "",
        ])
        .unwrap();
        assert!(s.sms.auth_token.is_none() && s.sms.number.is_none() && s.sms.account_sid.is_none());
    }

    #[test]
    fn every_check_says_what_to_change() {
        let refused = |flags: &[&str], says: &str| {
            let Err(why) = settings(flags) else {
                panic!("{flags:?} was taken");
            };
            assert!(why.contains(says), "{flags:?}: {why}");
        };
        refused(&["--watch"], "--watch needs the story file");
        refused(&["--presenter-token", "short"], "needs at least 16");
        refused(
            &["--public-url", "talk.example.com"],
            "must start with http:// or https://",
        );
        refused(
            &["--public-url", "ftp://talk.example.com"],
            "must start with http:// or https://",
        );
        refused(&["--public-url", "https:///talk"], "has no host");
        refused(&["--twilio-account-sid", "AC123"], "32 hex digits");
        #[cfg(feature = "sms-outbound")]
        {
            refused(&["--sms-results"], "--sms-results needs the Twilio auth token");
            refused(&["--sms-results", "--twilio-auth-token", "t"], "--twilio-account-sid");
            let sid = "AC0123456789abcdef0123456789abcdef";
            let all = ["--sms-results", "--twilio-auth-token", "t", "--twilio-account-sid", sid];
            refused(&all, "--sms-number");
            let rate = [
                &all[..],
                &["--sms-number", "+15005550006", "--sms-results-per-second", "0"],
            ]
            .concat();
            refused(&rate, "--sms-results-per-second must be at least 1");
        }
        let mut by_hand = Settings::new("a presenter token of some length", "secret");
        assert_eq!(by_hand.validate(), Ok(()));
        by_hand.secrets.presenter_token = "short".into();
        assert!(by_hand.validate().unwrap_err().contains("needs at least 16"));
    }
}
