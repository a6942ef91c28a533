//! A real PostgreSQL server for a test: `initdb` on a temporary data directory, started with
//! `pg_ctl` on a free loopback port, stopped (immediately) when dropped. The server refuses to
//! run as root, so as root (CI) it runs as the `postgres` system user.
#![allow(dead_code)]

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The superuser's password in every test server (password authentication is on, so a
/// wrong password is refused as in production).
pub const PASSWORD: &str = "rvu-test-secret";

const INSTALL: &str = "PostgreSQL's server programs (initdb, pg_ctl, psql) are missing: \
    install them with `apt-get install -y postgresql` (scripts/test does it for you)";

pub struct PgServer {
    dir: tempfile::TempDir,
    bin: PathBuf,
    pub port: u16,
    run_as_postgres: bool,
}

/// The folder with initdb and pg_ctl: on PATH, else Debian's versioned folder.
fn server_bin() -> PathBuf {
    let on_path = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .find(|dir| dir.join("initdb").is_file() && dir.join("pg_ctl").is_file());
    if let Some(dir) = on_path {
        return dir;
    }
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|entries| {
            entries
                .filter_map(|e| e.ok())
                .map(|e| e.path().join("bin"))
                .collect()
        })
        .unwrap_or_default();
    versions.sort();
    versions
        .into_iter()
        .rev()
        .find(|dir| dir.join("initdb").is_file())
        .unwrap_or_else(|| panic!("{INSTALL}"))
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

fn checked(what: &str, output: std::io::Result<Output>) -> Output {
    let output = output.unwrap_or_else(|e| panic!("{what}: {e}; {INSTALL}"));
    assert!(
        output.status.success(),
        "{what} failed: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

impl PgServer {
    pub fn start() -> PgServer {
        let server = PgServer::init();
        server.launch("");
        server
    }

    /// A server that takes TLS connections only (`hostssl` in pg_hba.conf; plain ones are
    /// rejected), with a certificate for 127.0.0.1 signed by a test CA; returns the CA's
    /// certificate file, for `SSL_CERT_FILE`.
    pub fn start_with_tls() -> (PgServer, PathBuf) {
        let server = PgServer::init();
        let dir = server.dir.path().to_path_buf();
        let openssl = |args: &[&str]| {
            checked(
                "openssl (Debian's openssl package)",
                Command::new("openssl")
                    .args(args)
                    .current_dir(&dir)
                    .output(),
            )
        };
        openssl(&[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
            "-days",
            "2",
            "-subj",
            "/CN=rvu test CA",
        ]);
        openssl(&[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
            "-subj",
            "/CN=localhost",
        ]);
        std::fs::write(
            dir.join("san.ext"),
            "subjectAltName=IP:127.0.0.1,DNS:localhost\n",
        )
        .expect("the extension file");
        openssl(&[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "server.pem",
            "-days",
            "2",
            "-extfile",
            "san.ext",
        ]);
        let data = server.data_dir();
        for file in ["server.pem", "server.key"] {
            std::fs::copy(dir.join(file), data.join(file)).expect("the server's TLS files");
        }
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(
                data.join("server.key"),
                std::fs::Permissions::from_mode(0o600),
            )
            .expect("a private key only its owner reads");
        }
        if server.run_as_postgres {
            checked(
                "chown postgres",
                Command::new("chown")
                    .arg("postgres:")
                    .arg(data.join("server.pem"))
                    .arg(data.join("server.key"))
                    .output(),
            );
        }
        std::fs::write(
            data.join("pg_hba.conf"),
            "hostssl all all 127.0.0.1/32 scram-sha-256\n\
             hostnossl all all 127.0.0.1/32 reject\n",
        )
        .expect("pg_hba.conf");
        server.launch("-c ssl=on -c ssl_cert_file=server.pem -c ssl_key_file=server.key");
        (server, dir.join("ca.pem"))
    }

    fn init() -> PgServer {
        let bin = server_bin();
        let run_as_postgres = is_root();
        let dir = tempfile::tempdir().expect("a temporary folder");
        let data = dir.path().join("data");
        std::fs::create_dir(&data).expect("the data folder");
        let password_file = dir.path().join("password");
        std::fs::write(&password_file, PASSWORD).expect("the password file");
        if run_as_postgres {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755))
                .expect("a readable temporary folder");
            std::fs::set_permissions(&password_file, std::fs::Permissions::from_mode(0o644))
                .expect("a readable password file");
            checked(
                "chown postgres (the postgres system user comes with Debian's postgresql)",
                Command::new("chown").arg("postgres:").arg(&data).output(),
            );
        }
        let server = PgServer {
            dir,
            bin,
            port: free_port(),
            run_as_postgres,
        };
        server.run(
            "initdb",
            &[
                "-D",
                path_text(&data),
                "-U",
                "postgres",
                "--auth=scram-sha-256",
                "--pwfile",
                path_text(&password_file),
                "-E",
                "UTF8",
                "--no-locale",
                "--no-sync",
            ],
        );
        server
    }

    fn launch(&self, extra: &str) {
        let data = self.data_dir();
        let options = format!(
            "-p {} -c listen_addresses=127.0.0.1 -c unix_socket_directories='' -c fsync=off {extra}",
            self.port
        );
        let log = data.join("server.log");
        self.run(
            "pg_ctl",
            &[
                "-D",
                path_text(&data),
                "-l",
                path_text(&log),
                "-o",
                &options,
                "-w",
                "-t",
                "60",
                "start",
            ],
        );
    }

    /// A server program, run as the `postgres` user when the tests run as root.
    fn command(&self, program: &str) -> Command {
        let exe = self.bin.join(program);
        if !self.run_as_postgres {
            return Command::new(exe);
        }
        let mut cmd = Command::new("runuser");
        cmd.args(["-u", "postgres", "--"]).arg(exe).current_dir("/");
        cmd
    }

    fn run(&self, program: &str, args: &[&str]) -> Output {
        checked(program, self.command(program).args(args).output())
    }

    /// A connection URL for `user` with `password`.
    pub fn url_as(&self, user: &str, password: &str, db: &str) -> String {
        format!("postgres://{user}:{password}@127.0.0.1:{}/{db}", self.port)
    }

    /// The superuser's URL, for the database `postgres`.
    pub fn url(&self) -> String {
        self.url_as("postgres", PASSWORD, "postgres")
    }

    /// Runs SQL as the superuser with psql; the rows, one per line, columns split by `|`.
    pub fn sql(&self, sql: &str) -> String {
        let psql = ["psql", "/usr/bin/psql"]
            .into_iter()
            .map(PathBuf::from)
            .chain([self.bin.join("psql")])
            .find(|p| {
                Command::new(p)
                    .arg("--version")
                    .output()
                    .is_ok_and(|o| o.status.success())
            })
            .unwrap_or_else(|| panic!("{INSTALL}"));
        let output = checked(
            &format!("psql -c {sql}"),
            Command::new(psql)
                .args(["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d"])
                .arg(self.url())
                .arg("-c")
                .arg(sql)
                .output(),
        );
        String::from_utf8_lossy(&output.stdout)
            .trim_end()
            .to_string()
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }
}

fn path_text(path: &Path) -> &str {
    path.to_str().expect("a UTF-8 temporary path")
}

impl Drop for PgServer {
    fn drop(&mut self) {
        let data = self.data_dir();
        let args = ["-D", path_text(&data), "-m", "immediate", "-w", "stop"];
        let _ = self.command("pg_ctl").args(args).output();
    }
}
