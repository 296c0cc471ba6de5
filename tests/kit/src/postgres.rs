//! A throwaway PostgreSQL cluster for tests: `initdb` into a temporary
//! directory, `postgres` listening on 127.0.0.1 only, run as an
//! unprivileged user even when the tests run as root (as on CI), stopped
//! and removed when dropped. It can be stopped and started again on the
//! same port and data, as a database restart mid-run needs.
//!
//! Needs the distribution's PostgreSQL server (`scripts/test` installs
//! the `postgresql` package when `initdb` is missing).

// A harness that cannot start its database cannot run its test.
#![allow(clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The account the cluster's files and processes belong to when the tests
/// run as root: Debian's package creates `postgres`; else `nobody`.
fn unprivileged() -> Option<&'static str> {
    let root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.starts_with(b"0\n"));
    if !root {
        return None;
    }
    let has_postgres = Command::new("id")
        .arg("postgres")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    Some(if has_postgres { "postgres" } else { "nobody" })
}

/// The newest installed server's `bin` directory.
fn server_bin() -> PathBuf {
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .expect("PostgreSQL is not installed (scripts/test installs the postgresql package)")
        .filter_map(Result::ok)
        .filter_map(|e| {
            let version = e.file_name().to_str()?.parse().ok()?;
            Some((version, e.path().join("bin")))
        })
        .filter(|(_, bin)| bin.join("initdb").exists())
        .collect();
    found.sort();
    found.pop().expect("no initdb under /usr/lib/postgresql").1
}

/// A command run as the cluster's user.
fn as_user(user: Option<&str>, program: &Path) -> Command {
    match user {
        Some(user) => {
            let mut c = Command::new("runuser");
            c.args(["-u", user, "--"]).arg(program);
            c
        }
        None => Command::new(program),
    }
}

/// A running (or stopped) throwaway cluster.
#[derive(Debug)]
pub struct PgCluster {
    dir: PathBuf,
    bin: PathBuf,
    user: Option<&'static str>,
    port: u16,
    server: Option<Child>,
    /// Whether commits reach the disk (benchmarks), or not (tests).
    durable: bool,
    /// Whether it accepts only TLS connections, with a self-signed
    /// certificate (`server.crt` in its folder).
    tls: bool,
}

impl PgCluster {
    /// Creates a cluster in a fresh temporary directory named after `name`
    /// and starts it, with a database `calrep` that user `calrep` owns.
    /// Commits do not wait for the disk (a test's cluster need not survive
    /// a power cut).
    pub fn start(name: &str) -> Self {
        Self::create(name, false, false)
    }

    /// [`start`](Self::start), accepting only TLS connections (clear text
    /// is rejected by `pg_hba.conf`), with a certificate for 127.0.0.1 and
    /// localhost signed by a throwaway authority (both made by `openssl`),
    /// whose certificate is [`certificate`](Self::certificate).
    pub fn start_tls(name: &str) -> Self {
        Self::create(name, false, true)
    }

    /// The PEM certificate of the throwaway authority that signed a TLS
    /// cluster's certificate: what a client that should trust it trusts.
    pub fn certificate(&self) -> PathBuf {
        self.dir.join("ca.crt")
    }

    /// [`start`](Self::start), with PostgreSQL's default durability
    /// (fsync, synchronous commit): what a benchmark compares with an
    /// SQLite file that syncs its commits.
    pub fn start_durable(name: &str) -> Self {
        Self::create(name, true, false)
    }

    fn create(name: &str, durable: bool, tls: bool) -> Self {
        let dir = std::env::temp_dir().join(format!("calrep-pg-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("cluster directory");
        let user = unprivileged();
        if let Some(user) = user {
            let chown = Command::new("chown")
                .args(["-R", user])
                .arg(&dir)
                .status()
                .expect("chown");
            assert!(chown.success(), "cannot give {} to {user}", dir.display());
        }
        let bin = server_bin();
        let initdb = as_user(user, &bin.join("initdb"))
            .args([
                "-U",
                "calrep",
                "--auth=trust",
                "-E",
                "UTF8",
                "--no-sync",
                "-D",
            ])
            .arg(dir.join("data"))
            .stdout(Stdio::null())
            .status()
            .expect("initdb");
        assert!(initdb.success(), "initdb failed");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let mut cluster = Self {
            dir,
            bin,
            user,
            port,
            server: None,
            durable,
            tls,
        };
        if tls {
            cluster.make_certificate();
        }
        cluster.resume();
        let created = Command::new(cluster.bin.join("createdb"))
            .args([
                "-h",
                "127.0.0.1",
                "-p",
                &port.to_string(),
                "-U",
                "calrep",
                "calrep",
            ])
            .status()
            .expect("createdb");
        assert!(created.success(), "createdb failed");
        cluster
    }

    /// Starts the server again after [`stop`](Self::stop) (same port and
    /// data) and waits until it accepts connections.
    pub fn resume(&mut self) {
        let server = as_user(self.user, &self.bin.join("postgres"))
            .arg("-D")
            .arg(self.dir.join("data"))
            .args(["-h", "127.0.0.1", "-p", &self.port.to_string(), "-k"])
            .arg(&self.dir)
            .args(if self.durable {
                ["-c", "fsync=on", "-c", "synchronous_commit=on"]
            } else {
                ["-c", "fsync=off", "-c", "synchronous_commit=off"]
            })
            .args(if self.tls {
                vec![
                    "-c".to_owned(),
                    "ssl=on".to_owned(),
                    "-c".to_owned(),
                    format!("ssl_cert_file={}", self.dir.join("server.crt").display()),
                    "-c".to_owned(),
                    format!("ssl_key_file={}", self.dir.join("server.key").display()),
                ]
            } else {
                Vec::new()
            })
            .stdout(Stdio::null())
            .stderr(
                std::fs::File::create(self.dir.join("server.log"))
                    .map_or_else(|_| Stdio::null(), Stdio::from),
            )
            .spawn()
            .expect("postgres");
        self.server = Some(server);
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let ready = Command::new(self.bin.join("pg_isready"))
                .args(["-h", "127.0.0.1", "-p", &self.port.to_string(), "-q"])
                .status()
                .is_ok_and(|s| s.success());
            if ready {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "PostgreSQL did not start; see {}",
                self.dir.join("server.log").display()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// A throwaway authority, a server certificate it signed for
    /// 127.0.0.1 and localhost (webpki refuses a CA certificate used as
    /// the server's own), and a `pg_hba.conf` that takes TLS only.
    fn make_certificate(&self) {
        let at = |name: &str| self.dir.join(name).display().to_string();
        let (cert, key) = (self.dir.join("server.crt"), self.dir.join("server.key"));
        std::fs::write(
            self.dir.join("server.ext"),
            "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n",
        )
        .expect("extensions file");
        let words =
            |list: &[&str]| -> Vec<String> { list.iter().map(|w| (*w).to_owned()).collect() };
        let mut authority = words(&[
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
        ]);
        authority.extend(words(&["-subj", "/CN=calrep test authority", "-keyout"]));
        authority.extend([at("ca.key"), "-out".into(), at("ca.crt")]);
        let mut request = words(&[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            "/CN=localhost",
        ]);
        request.extend([
            "-keyout".into(),
            at("server.key"),
            "-out".into(),
            at("server.csr"),
        ]);
        let mut signed = words(&["x509", "-req", "-days", "2", "-CAcreateserial", "-in"]);
        signed.extend([
            at("server.csr"),
            "-CA".into(),
            at("ca.crt"),
            "-CAkey".into(),
            at("ca.key"),
        ]);
        signed.extend([
            "-extfile".into(),
            at("server.ext"),
            "-out".into(),
            at("server.crt"),
        ]);
        for step in [authority, request, signed] {
            let made = Command::new("openssl")
                .args(&step)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .expect("openssl");
            assert!(made.success(), "openssl {step:?} failed");
        }
        std::fs::write(
            self.dir.join("data/pg_hba.conf"),
            "local all all trust\nhostssl all all 127.0.0.1/32 trust\nhostnossl all all 0.0.0.0/0 reject\n",
        )
        .expect("pg_hba.conf");
        // The server refuses a key others may read; it runs as `user`.
        let _ = Command::new("chmod").arg("600").arg(&key).status();
        if let Some(user) = self.user {
            let _ = Command::new("chown")
                .arg(user)
                .arg(&key)
                .arg(&cert)
                .status();
            let _ = Command::new("chown")
                .arg(user)
                .arg(self.dir.join("data/pg_hba.conf"))
                .status();
        }
    }

    /// Stops the server (a fast shutdown: sessions are cut, as in a
    /// restart) and waits for it to exit.
    pub fn stop(&mut self) {
        if let Some(mut server) = self.server.take() {
            let _ = as_user(self.user, &self.bin.join("pg_ctl"))
                .args(["stop", "-m", "fast", "-D"])
                .arg(self.dir.join("data"))
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
            // If pg_ctl could not stop it, `runuser` (or the server) is
            // told to end; it passes the signal on.
            if !matches!(server.try_wait(), Ok(Some(_))) {
                let _ = Command::new("kill").arg(server.id().to_string()).status();
            }
            let _ = server.wait();
        }
    }

    /// The connection URL (trust authentication on loopback).
    pub fn url(&self) -> String {
        format!("postgres://calrep@127.0.0.1:{}/calrep", self.port)
    }

    /// Creates an empty database `name` (letters, digits and `_`) and
    /// returns its connection URL: a fresh store for one test case.
    pub fn database(&self, name: &str) -> String {
        assert!(
            name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
            "{name:?}"
        );
        self.psql(&format!("CREATE DATABASE {name}"));
        format!("postgres://calrep@127.0.0.1:{}/{name}", self.port)
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The directory holding its data, socket and log.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The process id of the server (of `runuser` when started as root).
    pub fn server_pid(&self) -> Option<u32> {
        self.server.as_ref().map(Child::id)
    }

    /// Runs one SQL statement with `psql` in database `calrep` and returns
    /// its unaligned output.
    pub fn psql(&self, sql: &str) -> String {
        self.psql_in("calrep", sql)
    }

    /// [`psql`](Self::psql) in database `db`.
    pub fn psql_in(&self, db: &str, sql: &str) -> String {
        let out = Command::new(self.bin.join("psql"))
            .args([
                "-h",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-U",
                "calrep",
                "-d",
                db,
            ])
            .args(["-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-c", sql])
            .output()
            .expect("psql");
        assert!(
            out.status.success(),
            "psql {sql:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The configuration the multi-host tests and the `hosts-on-postgres`
/// benchmark give every host: `replica` (a `[replica]` or
/// `[replica.postgres]` section), one task replicating the demo
/// organisation's All Staff group from the simulator at `sim_url` (its
/// password in `sim-password` beside the file), `concurrency` mailboxes at
/// once, leases of `lease_ttl_seconds` and pages of `page_size` changes.
/// Written to `dir/calrep.toml`, whose path is returned.
pub fn shared_task_config(
    dir: &Path,
    sim_url: &str,
    replica: &str,
    concurrency: usize,
    lease_ttl_seconds: u64,
    page_size: u32,
) -> PathBuf {
    use calrep_core::demo::DemoOrganisation;
    use calrep_core::sim::SimOptions;
    std::fs::create_dir_all(dir).expect("configuration folder");
    std::fs::write(dir.join("sim-password"), SimOptions::PASSWORD).expect("password file");
    let text = format!(
        r#"
{replica}
[engine]
concurrency = {concurrency}
lease_ttl_seconds = {lease_ttl_seconds}
page_size = {page_size}

[[sites]]
id = "hq"
directory = "exchange"
ews = {{ url = "{sim_url}", username = "{user}", password_file = "sim-password", impersonation = true }}

[[definitions]]
id = "all"
include = "all"

[[schedules]]
id = "s"
time_zone = "UTC"
when.daily.once.start = "02:00"

[[tasks]]
id = "t"
site = "hq"
definition = "all"
schedule = "s"
group = {{ distribution_group = "{group}" }}
"#,
        user = SimOptions::USERNAME,
        group = DemoOrganisation::ALL_STAFF_ADDRESS,
    );
    let path = dir.join("calrep.toml");
    std::fs::write(&path, text).expect("configuration file");
    path
}
