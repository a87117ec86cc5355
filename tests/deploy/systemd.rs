//! deploy/systemd's units: `systemd-analyze verify` and `systemd-analyze
//! security --offline` where systemd is installed, and always a reading of
//! the files themselves for the settings deploy promises.
//!
//! The units run /opt/cyoa/bin/cyoa; systemd-analyze checks that the
//! command exists, so the copies it verifies run the binary cargo built.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;
use std::process::Command;

use crate::{TempDir, repo_file};

/// The units, by file name.
const UNITS: [&str; 2] = ["cyoa.service", "cyoa@.service"];

/// The open-file limit (soft and hard) every way of running cyoa in deploy/
/// gives it: one file per audience socket, 100,000 sockets and room.
const OPEN_FILES: &str = "262144";

/// A unit's settings: `(section, key)` to every value given, in order.
type Unit = BTreeMap<(String, String), Vec<String>>;

/// Reads a unit file as systemd does: `[Section]` headers, `Key=value`
/// lines, `#`/`;` comments. Panics on any other line.
fn parse(name: &str, text: &str) -> Unit {
    let mut unit = Unit::new();
    let mut section = None;
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            section = Some(name.to_string());
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            panic!("{name}:{}: neither a section, a setting nor a comment: {line}", n + 1);
        };
        let Some(section) = &section else {
            panic!("{name}:{}: a setting before any [Section]", n + 1);
        };
        unit.entry((section.clone(), key.trim().to_string()))
            .or_default()
            .push(value.trim().to_string());
    }
    unit
}

fn unit_text(name: &str) -> String {
    let path = repo_file(&format!("deploy/systemd/{name}"));
    fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

#[test]
fn the_units_carry_the_promised_settings() {
    for name in UNITS {
        let unit = parse(name, &unit_text(name));
        let get = |key: &str| -> Vec<String> {
            unit.get(&("Service".to_string(), key.to_string()))
                .cloned()
                .unwrap_or_default()
        };
        for (key, value) in [
            ("User", "cyoa"),
            ("Group", "cyoa"),
            ("EnvironmentFile", "/etc/cyoa/cyoa.env"),
            ("Restart", "on-failure"),
            ("NoNewPrivileges", "yes"),
            ("ProtectSystem", "strict"),
            ("ProtectHome", "yes"),
            ("PrivateTmp", "yes"),
            ("PrivateDevices", "yes"),
            ("ProtectKernelTunables", "yes"),
            ("ProtectKernelModules", "yes"),
            ("ProtectKernelLogs", "yes"),
            ("ProtectControlGroups", "yes"),
            ("RestrictAddressFamilies", "AF_INET AF_INET6 AF_UNIX"),
            ("LockPersonality", "yes"),
            ("MemoryDenyWriteExecute", "yes"),
            ("SystemCallFilter", "@system-service"),
            ("CapabilityBoundingSet", ""),
            ("LimitNOFILE", OPEN_FILES),
        ] {
            assert!(
                get(key).iter().any(|v| v == value),
                "{name}: [Service] {key}={value} is missing (has {:?})",
                get(key)
            );
        }
        let exec = get("ExecStart");
        assert_eq!(exec.len(), 1, "{name}: one ExecStart");
        let wanted_bind = if name.contains('@') {
            "--bind 127.0.0.1:%i"
        } else {
            "--bind 127.0.0.1:8080"
        };
        assert!(
            exec[0].starts_with("/opt/cyoa/bin/cyoa serve") && exec[0].contains(wanted_bind),
            "{name}: ExecStart={}",
            exec[0]
        );
        assert!(
            unit.contains_key(&("Install".to_string(), "WantedBy".to_string())),
            "{name}: no [Install] WantedBy"
        );
    }
}

#[test]
fn compose_gives_each_instance_the_units_open_file_limit() {
    let path = repo_file("compose.yaml");
    let text = fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    // The settings every instance merges (`<<: *cyoa`): the block from the
    // anchor to the next top-level key.
    let block: Vec<&str> = text
        .lines()
        .skip_while(|l| !l.starts_with("x-cyoa: &cyoa"))
        .skip(1)
        .take_while(|l| l.is_empty() || l.starts_with(' ') || l.starts_with('#'))
        .map(str::trim)
        .collect();
    let limits: Vec<&str> = block
        .iter()
        .skip_while(|l| **l != "ulimits:")
        .skip(1)
        .take(3)
        .copied()
        .collect();
    assert_eq!(
        limits,
        [
            "nofile:",
            &format!("soft: {OPEN_FILES}"),
            &format!("hard: {OPEN_FILES}")
        ],
        "compose.yaml: x-cyoa sets no `ulimits: nofile` of {OPEN_FILES}:\n{}",
        block.join("\n")
    );
    let instances = text.lines().filter(|l| l.trim() == "<<: *cyoa").count();
    assert!(instances >= 2, "compose.yaml: {instances} instances merge x-cyoa");
}

/// Where systemd-analyze is, if it is installed.
fn systemd_analyze() -> Option<&'static str> {
    ["/usr/bin/systemd-analyze", "/bin/systemd-analyze"]
        .into_iter()
        .find(|p| Path::new(p).exists())
}

/// The units copied into `dir` with the built binary in ExecStart, plus an
/// instance `cyoa@8081.service` of the template; returns the files to verify.
fn units_for_systemd(dir: &Path) -> Vec<String> {
    let binary = env!("CARGO_BIN_EXE_cyoa");
    for name in UNITS {
        let text = unit_text(name).replace("/opt/cyoa/bin/cyoa", binary);
        fs::write(dir.join(name), text).unwrap_or_else(|e| panic!("cannot write {name}: {e}"));
    }
    fs::copy(dir.join("cyoa@.service"), dir.join("cyoa@8081.service"))
        .unwrap_or_else(|e| panic!("cannot copy the template: {e}"));
    ["cyoa.service", "cyoa@8081.service"]
        .iter()
        .map(|n| dir.join(n).display().to_string())
        .collect()
}

#[test]
fn systemd_analyze_verifies_the_units_where_systemd_is_installed() {
    let Some(analyze) = systemd_analyze() else {
        // The reading in `the_units_carry_the_promised_settings` is what is
        // checked here; say so rather than pass in silence.
        eprintln!(
            "systemd-analyze is not installed: the units were only read as INI files \
             (apt-get install systemd to verify them)"
        );
        return;
    };
    let dir = TempDir::new("systemd");
    for unit in units_for_systemd(dir.path()) {
        let out = Command::new(analyze)
            .arg("verify")
            .arg(&unit)
            .output()
            .unwrap_or_else(|e| panic!("cannot run {analyze}: {e}"));
        let said = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.status.success(), "systemd-analyze verify {unit} failed:\n{said}");
        // verify only warns about unknown keys and bad values: any word
        // about our unit is a finding.
        let findings: Vec<&str> = said
            .lines()
            .filter(|l| l.contains(dir.path().to_str().unwrap_or("/")))
            .collect();
        assert!(findings.is_empty(), "systemd-analyze verify {unit}:\n{said}");
        eprintln!("systemd-analyze verify {unit}: ok");

        // The exposure score systemd gives the sandbox: 0 is locked down, 10 is
        // wide open; anything under 2 is "OK" in its words.
        let out = Command::new(analyze)
            .args(["security", "--offline=yes", "--no-pager"])
            .arg(&unit)
            .output()
            .unwrap_or_else(|e| panic!("cannot run {analyze}: {e}"));
        let said = String::from_utf8_lossy(&out.stdout).to_string();
        let score: f64 = said
            .lines()
            .find_map(|l| l.split("Overall exposure level for ").nth(1))
            .and_then(|rest| rest.split(':').nth(1))
            .and_then(|s| s.split_whitespace().next())
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("no exposure level from systemd-analyze security:\n{said}"));
        assert!(score < 2.0, "{unit}: exposure {score}, over 2.0:\n{said}");
        eprintln!("systemd-analyze security {unit}: exposure {score}");
    }
}
