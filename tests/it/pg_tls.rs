//! `sslmode=verify-ca` and `verify-full` against a real PostgreSQL with TLS: a scratch server
//! (initdb and pg_ctl as the `postgres` OS user, on a port of its own) whose certificate is
//! signed by a CA the test makes with the `openssl` CLI. Success with the right CA and host;
//! one line, exit 2 and no password with a wrong CA or a wrong host name.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::cli::{assert_one_line_error, calsync};
use crate::support::{POSTGRES_SCHEMA, fixture_sql, pg_connect};

const PASSWORD: &str = "tls-test-Passw0rd";

/// Where the server's programs are (initdb, pg_ctl), as the installed PostgreSQL says.
fn server_bin() -> String {
    let out = Command::new("pg_config")
        .arg("--bindir")
        .output()
        .expect("pg_config (PostgreSQL's server package; see .ci/postgres-setup)");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

#[track_caller]
fn run(program: &str, args: &[&str]) {
    let out = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{program}: {e}"));
    assert!(
        out.status.success(),
        "{program} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn as_postgres(program: &str, args: &[&str]) {
    let mut all = vec!["-u", "postgres", "--", program];
    all.extend_from_slice(args);
    run("runuser", &all);
}

/// A CA (key and self-signed certificate) in `dir/name.{key,crt}`.
fn make_ca(dir: &Path, name: &str) -> PathBuf {
    let key = dir.join(format!("{name}.key"));
    let crt = dir.join(format!("{name}.crt"));
    run(
        "openssl",
        &[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            key.to_str().unwrap(),
            "-out",
            crt.to_str().unwrap(),
            "-days",
            "2",
            "-subj",
            &format!("/CN={name}"),
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        ],
    );
    crt
}

/// The server's key and certificate for the DNS name `localhost` only, signed by `ca`.
fn make_server_cert(dir: &Path, ca: &str) -> (PathBuf, PathBuf) {
    let key = dir.join("server.key");
    let csr = dir.join("server.csr");
    let crt = dir.join("server.crt");
    let ext = dir.join("server.ext");
    std::fs::write(
        &ext,
        "subjectAltName=DNS:localhost\nbasicConstraints=CA:FALSE\n\
         keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    run(
        "openssl",
        &[
            "req",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            key.to_str().unwrap(),
            "-out",
            csr.to_str().unwrap(),
            "-subj",
            "/CN=localhost",
        ],
    );
    run(
        "openssl",
        &[
            "x509",
            "-req",
            "-in",
            csr.to_str().unwrap(),
            "-CA",
            dir.join(format!("{ca}.crt")).to_str().unwrap(),
            "-CAkey",
            dir.join(format!("{ca}.key")).to_str().unwrap(),
            "-CAcreateserial",
            "-out",
            crt.to_str().unwrap(),
            "-days",
            "2",
            "-extfile",
            ext.to_str().unwrap(),
        ],
    );
    (key, crt)
}

/// A PostgreSQL cluster of its own, with TLS and scram passwords on loopback; stopped on drop.
struct ScratchServer {
    data: PathBuf,
    port: u16,
    _dir: tempfile::TempDir,
}

impl ScratchServer {
    fn start(dir: tempfile::TempDir, key: &Path, crt: &Path) -> ScratchServer {
        use std::os::unix::fs::PermissionsExt;
        let root = dir.path();
        std::fs::set_permissions(root, std::fs::Permissions::from_mode(0o755)).unwrap();
        let pwfile = root.join("pw");
        std::fs::write(&pwfile, PASSWORD).unwrap();
        let data = root.join("data");
        std::fs::create_dir(&data).unwrap();
        let sockets = root.join("sockets");
        std::fs::create_dir(&sockets).unwrap();
        for path in [
            &data,
            &sockets,
            &pwfile,
            &key.to_path_buf(),
            &crt.to_path_buf(),
        ] {
            run("chown", &["postgres:postgres", path.to_str().unwrap()]);
        }
        std::fs::set_permissions(key, std::fs::Permissions::from_mode(0o600)).unwrap();
        as_postgres(
            &format!("{}/initdb", server_bin()),
            &[
                "-D",
                data.to_str().unwrap(),
                "-U",
                "postgres",
                "--auth-local=trust",
                "--auth-host=scram-sha-256",
                &format!("--pwfile={}", pwfile.display()),
            ],
        );
        let port = {
            let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            probe.local_addr().unwrap().port()
        };
        let conf = format!(
            "\nport = {port}\nlisten_addresses = 'localhost'\nunix_socket_directories = '{}'\n\
             ssl = on\nssl_cert_file = '{}'\nssl_key_file = '{}'\nfsync = off\n",
            sockets.display(),
            crt.display(),
            key.display()
        );
        let conf_path = data.join("postgresql.conf");
        let mut text = std::fs::read_to_string(&conf_path).unwrap();
        text.push_str(&conf);
        std::fs::write(&conf_path, text).unwrap();
        let log = root.join("server.log");
        run("touch", &[log.to_str().unwrap()]);
        run("chown", &["postgres:postgres", log.to_str().unwrap()]);
        let started = Command::new("runuser")
            .args([
                "-u",
                "postgres",
                "--",
                &format!("{}/pg_ctl", server_bin()),
                "-w",
                "start",
                "-D",
            ])
            .arg(&data)
            .arg("-l")
            .arg(&log)
            .output()
            .unwrap();
        assert!(
            started.status.success(),
            "the scratch server did not start: {}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        ScratchServer {
            data,
            port,
            _dir: dir,
        }
    }
}

impl Drop for ScratchServer {
    fn drop(&mut self) {
        let _ = Command::new("runuser")
            .args([
                "-u",
                "postgres",
                "--",
                &format!("{}/pg_ctl", server_bin()),
                "-D",
            ])
            .arg(&self.data)
            .args(["-m", "immediate", "-w", "stop"])
            .output();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_full_sends_the_password_only_to_the_certified_host() {
    let dir = tempfile::tempdir().unwrap();
    let ca = make_ca(dir.path(), "lms-ca");
    let wrong_ca = make_ca(dir.path(), "other-ca");
    let (key, crt) = make_server_cert(dir.path(), "lms-ca");
    let server = ScratchServer::start(dir, &key, &crt);
    let port = server.port;
    let admin = pg_connect(&format!(
        "postgres://postgres:{PASSWORD}@127.0.0.1:{port}/postgres?sslmode=disable"
    ))
    .await;
    admin.batch_execute(POSTGRES_SCHEMA).await.unwrap();
    admin
        .batch_execute(&format!("SET TIME ZONE 'UTC'; {}", fixture_sql()))
        .await
        .unwrap();

    let url = |host: &str, mode: &str, root: &Path| {
        format!(
            "postgres://postgres:{PASSWORD}@{host}:{port}/postgres?sslmode={mode}&sslrootcert={}",
            root.display()
        )
    };
    let status = |url: &str| calsync(&["--database-url", url, "status", "--json"], &[]);
    let listed = |run: &crate::cli::Run| {
        assert_eq!(run.code, 0, "{}", run.stderr);
        assert_eq!(run.stdout.lines().count(), 10);
    };

    // The right CA and the host the certificate names.
    listed(&status(&url("localhost", "verify-full", &ca)));
    // verify-ca checks the chain only: an address the certificate does not name is fine.
    listed(&status(&url("127.0.0.1", "verify-ca", &ca)));

    // A host name the certificate does not carry.
    let wrong_host = status(&url("127.0.0.1", "verify-full", &ca));
    assert_one_line_error(&wrong_host, "invalid peer certificate");
    assert!(
        wrong_host.stderr.contains(
            "certificate not valid for name \"127.0.0.1\"; certificate is only valid for \
             DnsName(\"localhost\") (no password was sent)"
        ),
        "{}",
        wrong_host.stderr
    );
    // A server whose certificate another CA signed.
    for mode in ["verify-full", "verify-ca"] {
        let wrong_ca_run = status(&url("localhost", mode, &wrong_ca));
        assert_one_line_error(&wrong_ca_run, "invalid peer certificate: UnknownIssuer");
    }
    for run in [
        &wrong_host,
        &status(&url("localhost", "verify-full", &wrong_ca)),
    ] {
        assert!(!run.stderr.contains(PASSWORD) && !run.stdout.contains(PASSWORD));
    }
    // require encrypts without checking, as libpq does: the same server is accepted.
    listed(&status(&url("127.0.0.1", "require", &wrong_ca)));
    // The LMS's own variables, the password from PGPASSWORD (not argv), TLS from libpq's.
    let port_text = port.to_string();
    let lms_env = |root: &Path| {
        let root = root.to_str().unwrap().to_string();
        calsync(
            &["status", "--json"],
            &[
                ("AWS_DB_HOST", "localhost"),
                ("AWS_DB_PORT", &port_text),
                ("AWS_DB_NAME", "postgres"),
                ("AWS_DB_USER", "postgres"),
                ("PGPASSWORD", PASSWORD),
                ("PGSSLMODE", "verify-full"),
                ("PGSSLROOTCERT", &root),
            ],
        )
    };
    listed(&lms_env(&ca));
    let refused = lms_env(&wrong_ca);
    assert_one_line_error(&refused, "invalid peer certificate: UnknownIssuer");
    assert!(refused.stderr.contains("(no password was sent)"));
    // A CA file that holds no certificate.
    let empty = tempfile::NamedTempFile::new().unwrap();
    let no_ca = status(&url("localhost", "verify-full", empty.path()));
    assert_one_line_error(&no_ca, "holds no usable CA certificate");
}
