//! Encrypted stores: the whole system on a Redis that speaks only TLS and asks for an ACL user's
//! password, and on a PostgreSQL that accepts only TLS connections with a SCRAM password, each
//! server's certificate from a CA of the test's own (`sslmode=verify-full`,
//! `COMMERCE_REDIS_CA_CERT`); and every way a connection must be refused (plain text, another
//! CA, a name the certificate does not hold, a wrong password) fails with an error that says so.
//!
//! [`TlsStores`] starts both servers per test, on ports and in a directory of their own, from
//! Debian's `redis-server` and `postgresql` packages (CI has both: a missing one fails the test
//! with what to install).
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use commerce_cli::system::{self, Component};
use commerce_platform::auth::Role;
use commerce_platform::config::{RedisConfig, Secret};
use commerce_platform::redis_connection::{self, RedisConnectError};
use commerce_platform::Shutdown;
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair, KeyUsagePurpose,
};
use reqwest::StatusCode;
use serde_json::Value;
use uuid::Uuid;

use crate::support::{Options, Stores, TestSystem};

/// The ACL user the services authenticate as.
const REDIS_USER: &str = "commerce";
const REDIS_PASSWORD: &str = "redis-secret-of-commerce";
/// The default user's password (`rediss://:password@host`, as `requirepass` sets it).
const REDIS_DEFAULT_PASSWORD: &str = "redis-secret-of-default";
const POSTGRES_PASSWORD: &str = "postgres-secret";
/// Loopback, but a name the server's certificate does not hold (it holds `localhost` and
/// `127.0.0.1`): both servers listen there too, so only the name check can refuse it.
const UNCERTIFIED_HOST: &str = "127.0.0.2";

/// A Redis and a PostgreSQL server that speak only TLS, with certificates of a CA made for them;
/// stopped, and their directory removed, when dropped.
pub struct TlsStores {
    /// Certificates, keys, both servers' data and logs.
    dir: tempfile::TempDir,
    /// The CA the servers' certificate chains to.
    pub ca_cert: PathBuf,
    /// A CA that has nothing to do with the servers.
    pub other_ca_cert: PathBuf,
    pub redis_port: u16,
    pub postgres_port: u16,
    redis: Child,
    postgres: PostgresCluster,
}

impl TlsStores {
    /// Both servers, started and accepting connections. Blocking work (key generation, initdb)
    /// runs off the test's runtime.
    pub async fn start() -> Self {
        tokio::task::spawn_blocking(Self::start_blocking)
            .await
            .expect("start the TLS stores")
    }

    fn start_blocking() -> Self {
        let dir = tempfile::Builder::new()
            .prefix("tls-stores-")
            .tempdir()
            .expect("a temporary directory");
        let certificates = Certificates::generate(dir.path());
        let postgres = PostgresCluster::init(dir.path(), &certificates);
        let (redis, redis_port) = start_redis(dir.path(), &certificates);
        let postgres_port = postgres.start();
        Self {
            ca_cert: certificates.ca,
            other_ca_cert: certificates.other_ca,
            dir,
            redis_port,
            postgres_port,
            redis,
            postgres,
        }
    }

    /// `rediss://{credentials}@{host}:{port}`.
    pub fn redis_url(&self, credentials: &str, host: &str) -> String {
        format!("rediss://{credentials}@{host}:{}", self.redis_port)
    }

    /// Redis settings with `url` and `ca_cert`.
    pub fn redis_config(&self, url: String, ca_cert: Option<&Path>) -> RedisConfig {
        RedisConfig {
            url: Secret::new(url),
            key_prefix: String::new(),
            ca_cert: ca_cert.map(Path::to_owned),
        }
    }

    /// A URL of the `postgres` database as the user `postgres`, with `parameters` (`sslmode=…`).
    pub fn postgres_url(&self, host: &str, parameters: &str) -> String {
        format!(
            "postgres://postgres:{POSTGRES_PASSWORD}@{host}:{}/postgres?{parameters}",
            self.postgres_port
        )
    }

    /// `sslmode=verify-full&sslrootcert=…` with `ca`.
    pub fn verify_full(ca: &Path) -> String {
        format!("sslmode=verify-full&sslrootcert={}", ca.display())
    }

    /// The servers as a system's stores, every check on: the services connect by name
    /// (`localhost`), verify the certificate against the test's CA and authenticate.
    pub fn for_system(&self) -> Stores {
        Stores {
            admin_database_url: self.postgres_url("localhost", &Self::verify_full(&self.ca_cert)),
            redis_url: self.redis_url(&format!("{REDIS_USER}:{REDIS_PASSWORD}"), "localhost"),
            redis_ca_cert: Some(self.ca_cert.clone()),
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
}

impl Drop for TlsStores {
    fn drop(&mut self) {
        let _ = self.redis.kill();
        let _ = self.redis.wait();
        self.postgres.stop();
    }
}

/// PEM files in the stores' directory.
struct Certificates {
    ca: PathBuf,
    other_ca: PathBuf,
    server_cert: PathBuf,
    server_key: PathBuf,
}

impl Certificates {
    /// A CA, a server certificate of it for `localhost` and `127.0.0.1`, and an unrelated CA.
    fn generate(dir: &Path) -> Self {
        let ca = certificate_authority("commerce test CA");
        let other_ca = certificate_authority("an unrelated CA");
        let mut params =
            CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
                .expect("server certificate parameters");
        params
            .distinguished_name
            .push(DnType::CommonName, "localhost");
        let server_key = KeyPair::generate().expect("a server key");
        let server = params
            .signed_by(&server_key, &ca)
            .expect("sign the server certificate");
        let certificates = Self {
            ca: dir.join("ca.pem"),
            other_ca: dir.join("other-ca.pem"),
            server_cert: dir.join("server.pem"),
            server_key: dir.join("server-key.pem"),
        };
        for (path, pem) in [
            (&certificates.ca, ca.pem()),
            (&certificates.other_ca, other_ca.pem()),
            (&certificates.server_cert, server.pem()),
            (&certificates.server_key, server_key.serialize_pem()),
        ] {
            std::fs::write(path, pem).expect("write a PEM file");
        }
        // PostgreSQL refuses a key others may read.
        set_mode(&certificates.server_key, 0o600);
        certificates
    }
}

fn certificate_authority(name: &str) -> CertifiedIssuer<'static, KeyPair> {
    let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA parameters");
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, name);
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    CertifiedIssuer::self_signed(params, KeyPair::generate().expect("a CA key"))
        .expect("a self-signed CA")
}

fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
}

/// A port nothing listens on now (the server is given it a moment later; a server that then
/// finds it taken is started again on another).
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port()
}

fn accepts_connections(port: u16) -> bool {
    std::net::TcpStream::connect_timeout(
        &std::net::SocketAddr::from(([127, 0, 0, 1], port)),
        Duration::from_millis(200),
    )
    .is_ok()
}

/// `redis-server` on a free TLS port (no plain port), with an ACL user and the default user's
/// password, persisting nothing.
fn start_redis(dir: &Path, certificates: &Certificates) -> (Child, u16) {
    let config = dir.join("redis.conf");
    let log = dir.join("redis.log");
    std::fs::write(
        &config,
        format!(
            "port 0\n\
             bind 127.0.0.1 {UNCERTIFIED_HOST}\n\
             tls-cert-file {cert}\n\
             tls-key-file {key}\n\
             tls-ca-cert-file {ca}\n\
             tls-auth-clients no\n\
             user default on >{REDIS_DEFAULT_PASSWORD} ~* &* +@all\n\
             user {REDIS_USER} on >{REDIS_PASSWORD} ~* &* +@all\n\
             save \"\"\n\
             appendonly no\n\
             dir {dir}\n\
             logfile {log}\n",
            cert = certificates.server_cert.display(),
            key = certificates.server_key.display(),
            ca = certificates.ca.display(),
            dir = dir.display(),
            log = log.display(),
        ),
    )
    .expect("write redis.conf");
    for _ in 0..3 {
        let port = free_port();
        let mut child = match Command::new("redis-server")
            .arg(&config)
            .args(["--tls-port", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
        {
            Ok(child) => child,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => panic!(
                "redis-server is not installed: `apt-get install redis-server` (Debian's build \
                 speaks TLS)"
            ),
            Err(e) => panic!("cannot start redis-server: {e}"),
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if accepts_connections(port) {
                return (child, port);
            }
            if child.try_wait().ok().flatten().is_some() {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = child.kill();
        let _ = child.wait();
        let log = std::fs::read_to_string(&log).unwrap_or_default();
        // Only a port taken meanwhile is worth another try.
        assert!(
            log.contains("Address already in use"),
            "redis-server did not start on TLS port {port} (is it built with TLS?): {log}"
        );
    }
    panic!("redis-server found every port it was given taken");
}

/// A PostgreSQL cluster that accepts only `hostssl` connections with a SCRAM password.
struct PostgresCluster {
    bin: PathBuf,
    data: PathBuf,
    log: PathBuf,
    /// Root runs the server as the `postgres` OS user: initdb and postgres refuse root.
    as_postgres: bool,
}

impl PostgresCluster {
    fn init(dir: &Path, certificates: &Certificates) -> Self {
        let cluster = Self {
            bin: postgres_bin_dir(),
            data: dir.join("pgdata"),
            log: dir.join("postgres.log"),
            as_postgres: running_as_root(),
        };
        let password_file = dir.join("postgres-password");
        std::fs::write(&password_file, POSTGRES_PASSWORD).expect("write the password file");
        if cluster.as_postgres {
            let output = Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(dir)
                .output()
                .expect("run chown");
            assert!(
                output.status.success(),
                "chown to the postgres user: {output:?}"
            );
        }
        let output = cluster.run(
            "initdb",
            &[
                "-D".as_ref(),
                cluster.data.as_os_str(),
                "-U".as_ref(),
                "postgres".as_ref(),
                format!("--pwfile={}", password_file.display()).as_ref(),
                "--auth=scram-sha-256".as_ref(),
                "--encoding=UTF8".as_ref(),
                "--locale=C".as_ref(),
                "--no-sync".as_ref(),
            ],
        );
        assert!(output.status.success(), "initdb failed: {output:?}");
        let quote = |path: &Path| format!("'{}'", path.display());
        let mut conf = std::fs::read_to_string(cluster.data.join("postgresql.conf"))
            .expect("read postgresql.conf");
        conf.push_str(&format!(
            "\nlisten_addresses = '127.0.0.1,{UNCERTIFIED_HOST}'\n\
             unix_socket_directories = {socket}\n\
             ssl = on\n\
             ssl_cert_file = {cert}\n\
             ssl_key_file = {key}\n\
             password_encryption = 'scram-sha-256'\n\
             max_connections = 200\n\
             fsync = off\n\
             synchronous_commit = off\n\
             full_page_writes = off\n",
            socket = quote(dir),
            cert = quote(&certificates.server_cert),
            key = quote(&certificates.server_key),
        ));
        std::fs::write(cluster.data.join("postgresql.conf"), conf).expect("write postgresql.conf");
        // TLS or nothing: no `host` line, no `local` line.
        std::fs::write(
            cluster.data.join("pg_hba.conf"),
            format!(
                "hostssl all all 127.0.0.1/32 scram-sha-256\n\
                 hostssl all all {UNCERTIFIED_HOST}/32 scram-sha-256\n"
            ),
        )
        .expect("write pg_hba.conf");
        cluster
    }

    /// Starts the server on a free port, and returns it once the server accepts connections.
    fn start(&self) -> u16 {
        for _ in 0..3 {
            let port = free_port();
            let output = self.run(
                "pg_ctl",
                &[
                    "-D".as_ref(),
                    self.data.as_os_str(),
                    "-l".as_ref(),
                    self.log.as_os_str(),
                    "-o".as_ref(),
                    format!("-p {port}").as_ref(),
                    "-w".as_ref(),
                    "-t".as_ref(),
                    "30".as_ref(),
                    "start".as_ref(),
                ],
            );
            if output.status.success() {
                return port;
            }
            let log = std::fs::read_to_string(&self.log).unwrap_or_default();
            assert!(
                log.contains("already in use"),
                "PostgreSQL did not start on port {port}: {output:?}\n{log}"
            );
        }
        panic!("PostgreSQL found every port it was given taken");
    }

    fn stop(&self) {
        let _ = self.run(
            "pg_ctl",
            &[
                "-D".as_ref(),
                self.data.as_os_str(),
                "-m".as_ref(),
                "immediate".as_ref(),
                "-w".as_ref(),
                "stop".as_ref(),
            ],
        );
    }

    /// One of the server's programs, as the `postgres` OS user when this process is root.
    fn run(&self, program: &str, args: &[&std::ffi::OsStr]) -> Output {
        let program = self.bin.join(program);
        let mut command = if self.as_postgres {
            let mut command = Command::new("runuser");
            command.args(["-u", "postgres", "--"]).arg(&program);
            command
        } else {
            Command::new(&program)
        };
        command
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("run {}: {e}", program.display()))
    }
}

/// The newest `/usr/lib/postgresql/N/bin` (Debian's layout), else `pg_config --bindir`.
fn postgres_bin_dir() -> PathBuf {
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let version = entry.file_name().to_str()?.parse().ok()?;
            let bin = entry.path().join("bin");
            bin.join("initdb").exists().then_some((version, bin))
        })
        .collect();
    versions.sort();
    if let Some((_, bin)) = versions.pop() {
        return bin;
    }
    let from_pg_config = Command::new("pg_config")
        .arg("--bindir")
        .output()
        .ok()
        .map(|output| PathBuf::from(String::from_utf8_lossy(&output.stdout).trim()));
    match from_pg_config {
        Some(bin) if bin.join("initdb").exists() => bin,
        _ => panic!(
            "PostgreSQL's server programs (initdb, pg_ctl) are not installed: \
             `apt-get install postgresql` puts them in /usr/lib/postgresql/*/bin"
        ),
    }
}

fn running_as_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|output| String::from_utf8_lossy(&output.stdout).trim() == "0")
        .expect("run id -u")
}

/// `ACL WHOAMI` over a connection made with `config`.
async fn redis_user(config: &RedisConfig) -> Result<String, RedisConnectError> {
    let mut connection = redis_connection::connect(config).await?;
    Ok(redis::cmd("ACL")
        .arg("WHOAMI")
        .query_async(&mut connection)
        .await
        .expect("ACL WHOAMI"))
}

/// A pool of one connection to `url`, made as the services make theirs.
async fn postgres(url: &str) -> anyhow::Result<sqlx::PgPool> {
    commerce_platform::database::connect(&commerce_platform::config::DatabaseConfig {
        url: Secret::new(url),
        max_connections: 1,
    })
    .await
}

#[tokio::test]
async fn the_whole_system_runs_on_tls_only_stores_that_check_certificates_and_passwords() {
    let stores = TlsStores::start().await;
    let system = TestSystem::start_on(stores.for_system(), Options::default()).await;
    let vendor = Uuid::new_v4();
    let vendor_token = system.vendor_token(vendor).await;
    let product = system.stocked_product(&vendor_token, 2500, 3).await;

    // The catalog, from Redis.
    let customer = Uuid::new_v4();
    let customer_token = system.token_for(Role::Customer, customer, None);
    let (status, doc) = system
        .read(
            &format!("/v1/catalog/products/{product}?min_version=2"),
            &customer_token,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    assert_eq!(doc["published"], true);
    assert_eq!(doc["price"]["amount_minor"], 2500);

    // An order: the saga, the relay's lease connection and the orders model, all in Postgres.
    let order = system.confirmed_order(product, customer).await;
    let (status, doc) = system
        .read(&format!("/v1/orders/{order}"), &customer_token)
        .await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    assert_eq!(doc["status"], "confirmed");

    // The operator's CLI reaches both stores from its environment, the URLs given as files
    // (a Kubernetes secret volume's way).
    let redis_url_file = stores.path("redis-url");
    let database_url_file = stores.path("database-url");
    std::fs::write(&redis_url_file, system.config.read_api.redis.url.expose()).expect("write");
    std::fs::write(
        &database_url_file,
        format!("{}\n", system.config.command_api.database.url.expose()),
    )
    .expect("write");
    let mut command = system.commerce();
    command
        .args(["status", "--json"])
        .env_remove("COMMERCE_REDIS_URL")
        .env_remove("COMMERCE_DATABASE_URL")
        .env("COMMERCE_REDIS_URL_FILE", &redis_url_file)
        .env("COMMERCE_DATABASE_URL_FILE", &database_url_file);
    let output = tokio::task::spawn_blocking(move || command.output())
        .await
        .expect("join")
        .expect("run commerce status");
    assert!(output.status.success(), "{output:?}");
    let report: Value = serde_json::from_slice(&output.stdout).expect("JSON");
    assert_eq!(report["models"][0]["model"], "catalog", "{report}");
    assert!(
        report["unavailable"]
            .as_object()
            .is_some_and(|u| u.is_empty()),
        "{report}"
    );
    system.stop().await;
}

#[tokio::test]
async fn redis_over_tls_authenticates_an_acl_user_or_the_default_user_by_password() {
    let stores = TlsStores::start().await;
    let ca = Some(stores.ca_cert.as_path());
    let acl_user = stores.redis_config(
        stores.redis_url(&format!("{REDIS_USER}:{REDIS_PASSWORD}"), "localhost"),
        ca,
    );
    assert_eq!(redis_user(&acl_user).await.expect("ACL user"), REDIS_USER);
    let password_only = stores.redis_config(
        stores.redis_url(&format!(":{REDIS_DEFAULT_PASSWORD}"), "127.0.0.1"),
        ca,
    );
    assert_eq!(
        redis_user(&password_only).await.expect("default user"),
        "default"
    );
}

#[tokio::test]
async fn a_wrong_redis_password_is_an_authentication_error_that_does_not_repeat_it() {
    let stores = TlsStores::start().await;
    let config = stores.redis_config(
        stores.redis_url(&format!("{REDIS_USER}:not-the-password"), "localhost"),
        Some(&stores.ca_cert),
    );
    let error = redis_user(&config).await.expect_err("a wrong password");
    assert!(
        matches!(error, RedisConnectError::Authentication { .. }),
        "{error}"
    );
    let message = error.to_string();
    assert!(
        message.contains("refused the credentials") && message.contains("(user commerce)"),
        "{message}"
    );
    assert!(!message.contains("not-the-password"), "{message}");
}

#[tokio::test]
async fn plain_redis_to_the_tls_port_fails_fast_and_says_to_use_rediss() {
    let stores = TlsStores::start().await;
    let config = stores.redis_config(
        format!(
            "redis://{REDIS_USER}:{REDIS_PASSWORD}@localhost:{}",
            stores.redis_port
        ),
        None,
    );
    let started = Instant::now();
    let error = redis_user(&config).await.expect_err("plain text to TLS");
    assert!(
        started.elapsed() < redis_connection::RESPONSE_TIMEOUT * 3,
        "took {:?}",
        started.elapsed()
    );
    let message = error.to_string();
    assert!(message.contains("rediss://"), "{message}");
    assert!(!message.contains(REDIS_PASSWORD), "{message}");
}

#[tokio::test]
async fn redis_with_another_ca_or_a_name_outside_the_certificate_fails_the_tls_handshake() {
    let stores = TlsStores::start().await;
    let credentials = format!("{REDIS_USER}:{REDIS_PASSWORD}");
    let refusals = [
        // Signed by a CA this client was not told to trust.
        (
            stores.redis_url(&credentials, "localhost"),
            Some(stores.other_ca_cert.as_path()),
            "UnknownIssuer",
        ),
        // No private CA: the public roots do not know the test's.
        (
            stores.redis_url(&credentials, "localhost"),
            None,
            "UnknownIssuer",
        ),
        // The right CA, but the certificate is not for this name.
        (
            stores.redis_url(&credentials, UNCERTIFIED_HOST),
            Some(stores.ca_cert.as_path()),
            "not valid for name",
        ),
    ];
    for (url, ca, reason) in refusals {
        let error = redis_user(&stores.redis_config(url.clone(), ca))
            .await
            .expect_err("an untrusted server");
        assert!(
            matches!(error, RedisConnectError::Tls { .. }),
            "{url}: {error}"
        );
        let message = error.to_string();
        assert!(message.contains("TLS with Redis"), "{message}");
        assert!(message.contains(reason), "{url}: {message}");
    }
}

#[tokio::test]
async fn postgres_verify_full_trusts_only_the_right_ca_for_the_right_name_and_nothing_is_plain() {
    let stores = TlsStores::start().await;
    let verify_full = TlsStores::verify_full(&stores.ca_cert);

    // First in this process, so that a missing crypto provider would panic here (sqlx asks
    // rustls for the process's provider for `verify-ca`).
    let verify_ca = format!("sslmode=verify-ca&sslrootcert={}", stores.ca_cert.display());
    postgres(&stores.postgres_url("localhost", &verify_ca))
        .await
        .expect("verify-ca with the right CA")
        .close()
        .await;

    // The right CA and name: encrypted.
    let pool = postgres(&stores.postgres_url("localhost", &verify_full))
        .await
        .expect("verify-full with the right CA");
    let encrypted: bool =
        sqlx::query_scalar("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
            .fetch_one(&pool)
            .await
            .expect("pg_stat_ssl");
    assert!(encrypted);
    pool.close().await;

    let refusals = [
        (
            stores.postgres_url("localhost", &TlsStores::verify_full(&stores.other_ca_cert)),
            "UnknownIssuer",
        ),
        // Without `sslrootcert`, the public roots: they do not know the test's CA.
        (
            stores.postgres_url("localhost", "sslmode=verify-full"),
            "UnknownIssuer",
        ),
        (
            stores.postgres_url(UNCERTIFIED_HOST, &verify_full),
            "not valid for name",
        ),
        // libpq's `verify-ca` skips the name check; sqlx 0.8's exemption no longer matches what
        // rustls reports, so here it checks the name too (the README says so).
        (
            stores.postgres_url(UNCERTIFIED_HOST, &verify_ca),
            "not valid for name",
        ),
        // The server itself refuses what is not TLS.
        (
            stores.postgres_url("localhost", "sslmode=disable"),
            "no encryption",
        ),
    ];
    for (url, reason) in refusals {
        let started = Instant::now();
        let error = postgres(&url).await.expect_err("refused");
        let message = format!("{error:#}");
        assert!(message.contains(reason), "{url}: {message}");
        assert!(!message.contains(POSTGRES_PASSWORD), "{message}");
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{url}: {message}"
        );
    }
}

/// A secret store rotated the database password under a running process (RDS's managed master
/// secret does, weekly): its open connections still work, new ones never will. The process notices
/// within its check interval and stops with the reason, so the orchestrator starts it again with
/// the new password; while the password holds, it keeps running.
#[tokio::test]
async fn a_process_whose_database_password_was_rotated_stops_to_be_restarted_with_the_new_one() {
    let stores = TlsStores::start().await;
    let system = TestSystem::start_on(stores.for_system(), Options::default()).await;
    // A login role of this test's own, so the system's own password stays as it is.
    let role = format!("rotated_{}", Uuid::new_v4().simple());
    sqlx::query(&format!(
        "CREATE ROLE {role} LOGIN PASSWORD 'before-the-rotation'"
    ))
    .execute(&system.pool)
    .await
    .expect("create the role");
    let mut config = system.config.clone();
    let mut url: url::Url = config
        .projections
        .database
        .url
        .expose()
        .parse()
        .expect("URL");
    url.set_username(&role).expect("user");
    url.set_password(Some("before-the-rotation"))
        .expect("password");
    config.projections.database.url = Secret::new(String::from(url));
    config.credential_check = Duration::from_millis(100);
    let workers = system::start_components(config, &[Component::Webhooks], Shutdown::new())
        .await
        .expect("start the webhook sender");
    let ops = workers.address("ops").expect("an ops port");

    // Several checks pass while the password holds.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let health = system
        .http
        .get(format!("http://{ops}/healthz"))
        .send()
        .await
        .expect("the process still answers");
    assert_eq!(health.status(), StatusCode::OK);

    sqlx::query(&format!("ALTER ROLE {role} PASSWORD 'after-the-rotation'"))
        .execute(&system.pool)
        .await
        .expect("rotate the password");
    let stopped = tokio::time::timeout(Duration::from_secs(10), workers.wait())
        .await
        .expect("the process stops within its check interval");
    let error = format!("{:#}", stopped.expect_err("it stops with an error"));
    assert!(
        error.contains("28P01") && error.contains(&role) && error.contains("started again"),
        "{error}"
    );
    assert!(!error.contains("before-the-rotation") && !error.contains("after-the-rotation"));
    system.stop().await;
}
