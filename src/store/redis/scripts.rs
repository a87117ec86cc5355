//! The store's Lua scripts: one list, from which come both the scripts the
//! operations run ([`SCRIPTS`]) and the ones loaded into Redis ahead of
//! their first use ([`preload`]), so that no script can be run but left
//! out of the loading.
//!
//! Each script is `lua/common.lua` (the key format and the shared helpers)
//! followed by `lua/<name>.lua`, hashed once. It runs with EVALSHA: one
//! round trip while Redis holds it in its script cache. That cache is not
//! data: a restart, `SCRIPT FLUSH` or a failover to a replica empties it.
//! The scripts are loaded when the store connects and again when it
//! follows a failover; a script that Redis lost otherwise (a restart, a
//! flush) is answered `NOSCRIPT` on its next call, which then loads it and
//! runs it again: three round trips, once per script.

use std::sync::LazyLock;

use redis::Script;
use redis::aio::ConnectionManager;

/// Declares the scripts once: a field of [`Scripts`] each, and the same
/// names in [`Scripts::all`].
macro_rules! scripts {
    ($($name:ident),+ $(,)?) => {
        /// The store's Lua scripts, hashed once.
        pub(super) struct Scripts {
            $(pub(super) $name: Script,)+
        }

        pub(super) static SCRIPTS: LazyLock<Scripts> = LazyLock::new(|| Scripts {
            $($name: Script::new(concat!(
                include_str!("../lua/common.lua"),
                include_str!(concat!("../lua/", stringify!($name), ".lua"))
            )),)+
        });

        impl Scripts {
            /// Every script, with its name (the file `lua/<name>.lua`).
            pub(super) fn all(&self) -> Vec<(&'static str, &Script)> {
                vec![$((stringify!($name), &self.$name)),+]
            }
        }
    };
}

scripts!(
    identity,
    current,
    new_run,
    show,
    open,
    close,
    vote,
    sms_vote,
    withdraw,
    keep_present,
    withdraw_absent,
    sweep_turn,
    arrive,
    leave,
    beat,
    rejoin,
    history,
    now,
    move_to,
    audit,
    set_published,
    set_label,
    import,
    countdown,
    expire,
);

/// Loads every script into the Redis behind `con` (`SCRIPT LOAD`), so that
/// the first call of each is a single EVALSHA while Redis keeps its script
/// cache; a script it lost since (a restart, a flush) costs the `NOSCRIPT`
/// round trips described above, once.
pub(super) async fn preload(con: &mut ConnectionManager) -> redis::RedisResult<()> {
    for (_, script) in SCRIPTS.all() {
        script.load_async(con).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The `.lua` files of the store's script folder, by name.
    fn script_files() -> Vec<String> {
        let folder = concat!(env!("CARGO_MANIFEST_DIR"), "/src/store/lua");
        let mut names: Vec<String> = std::fs::read_dir(folder)
            .unwrap_or_else(|e| panic!("cannot read {folder}: {e}"))
            .filter_map(|entry| {
                let name = entry.ok()?.file_name().into_string().ok()?;
                name.strip_suffix(".lua").map(str::to_string)
            })
            .filter(|name| name != "common")
            .collect();
        names.sort();
        names
    }

    #[test]
    fn every_script_file_is_in_the_list_that_is_run_and_preloaded() {
        let mut listed: Vec<String> = SCRIPTS.all().into_iter().map(|(name, _)| name.to_string()).collect();
        listed.sort();
        let before = listed.len();
        listed.dedup();
        assert_eq!(listed.len(), before, "a script is listed twice: {listed:?}");
        assert_eq!(
            listed,
            script_files(),
            "every src/store/lua/*.lua but common.lua is one entry of the scripts! list"
        );
    }

    #[test]
    fn every_script_begins_with_the_shared_helpers_and_has_its_own_hash() {
        let common = include_str!("../lua/common.lua");
        let mut hashes: Vec<&str> = Vec::new();
        for (name, script) in SCRIPTS.all() {
            let file = std::fs::read_to_string(format!("{}/src/store/lua/{name}.lua", env!("CARGO_MANIFEST_DIR")))
                .unwrap_or_else(|e| panic!("cannot read {name}.lua: {e}"));
            assert_eq!(
                script.get_hash(),
                Script::new(&format!("{common}{file}")).get_hash(),
                "{name}: common.lua followed by {name}.lua"
            );
            hashes.push(script.get_hash());
        }
        let count = hashes.len();
        hashes.sort_unstable();
        hashes.dedup();
        assert_eq!(hashes.len(), count, "two scripts share a hash");
    }
}
