//! A real PostgreSQL for the tests, from Debian's packages: `initdb` on a temporary
//! directory and `pg_ctl` on a free loopback port, started here and stopped (by the server's
//! PID file) when dropped. As root, both run as the `postgres` user (PostgreSQL refuses
//! root). With `WMK_TEST_POSTGRES_URL` set (a server the test script started), that
//! server is used instead; either way every test gets a database of its own.

#![allow(dead_code)]

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;

use sqlx::Connection;

#[derive(Debug)]
pub struct Postgres {
    /// `postgres://…/` without a database name.
    base: String,
    /// Our own server, stopped on drop; `None` for the test script's.
    own: Option<OwnServer>,
}

#[derive(Debug)]
struct OwnServer {
    _dir: tempfile::TempDir,
    data: PathBuf,
    bin: PathBuf,
}

impl Postgres {
    pub fn start() -> Self {
        if let Ok(url) = std::env::var("WMK_TEST_POSTGRES_URL") {
            return Self {
                base: url.trim_end_matches('/').to_owned(),
                own: None,
            };
        }
        let bin = server_binaries();
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        std::fs::create_dir(&data).unwrap();
        let as_postgres = running_as_root();
        if as_postgres {
            // The postgres user must reach the directory and own the data directory.
            run(Command::new("chmod").arg("755").arg(dir.path()));
            run(Command::new("chown").arg("postgres:postgres").arg(&data));
        }
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .unwrap()
            .port();
        run(as_user(as_postgres, &bin.join("initdb"))
            .args(["-D"])
            .arg(&data)
            .args(["-U", "waymark", "-A", "trust", "-E", "UTF8", "--no-sync"]));
        let options = format!(
            "-p {port} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off",
            data.display()
        );
        run(as_user(as_postgres, &bin.join("pg_ctl"))
            .arg("-D")
            .arg(&data)
            .arg("-l")
            .arg(data.join("server.log"))
            .args(["-o", &options, "-w", "start"]));
        Self {
            base: format!("postgres://waymark@127.0.0.1:{port}"),
            own: Some(OwnServer {
                _dir: dir,
                data,
                bin,
            }),
        }
    }

    /// A new, empty database on the server; its URL.
    pub async fn fresh_database(&self) -> String {
        create_database(&self.base).await
    }
}

/// Creates a database with a new name on the server at `base` (`postgres://user@host:port`);
/// its URL.
pub async fn create_database(base: &str) -> String {
    let name = format!("t{}", model::CaptureId::new().to_string().replace('-', ""));
    let mut admin = sqlx::PgConnection::connect(&format!("{base}/postgres"))
        .await
        .expect("the test PostgreSQL answers");
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut admin)
        .await
        .unwrap();
    admin.close().await.ok();
    format!("{base}/{name}")
}

impl Drop for Postgres {
    fn drop(&mut self) {
        if let Some(own) = &self.own {
            let _ = as_user(running_as_root(), &own.bin.join("pg_ctl"))
                .arg("-D")
                .arg(&own.data)
                .args(["-m", "immediate", "-w", "stop"])
                .output();
        }
    }
}

/// The newest installed server's `bin` directory (Debian: `/usr/lib/postgresql/<v>/bin`).
fn server_binaries() -> PathBuf {
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|dir| {
            dir.filter_map(|e| e.ok())
                .map(|e| e.path().join("bin"))
                .collect()
        })
        .unwrap_or_default();
    versions.retain(|bin| bin.join("initdb").exists());
    versions.sort();
    versions
        .pop()
        .expect("PostgreSQL is not installed: scripts/setup installs Debian's postgresql")
}

fn running_as_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|out| String::from_utf8_lossy(&out.stdout).trim() == "0")
}

fn as_user(as_postgres: bool, program: &Path) -> Command {
    if as_postgres {
        let mut command = Command::new("runuser");
        command.args(["-u", "postgres", "--"]).arg(program);
        command
    } else {
        Command::new(program)
    }
}

fn run(command: &mut Command) {
    let out = command.output().expect("the command runs");
    assert!(
        out.status.success(),
        "{command:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
