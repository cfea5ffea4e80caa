//! `TcpProxy`: a TCP forwarder in front of a real server (Redis, Postgres) that a test can cut and
//! restore, to stage an outage of that server for one service without stopping it for every other
//! test running beside it.
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use tokio::net::{TcpSocket, TcpStream};
use tokio::task::JoinSet;

/// Forwards connections on its own port to `upstream` until cut.
pub struct TcpProxy {
    address: SocketAddr,
    upstream: SocketAddr,
    /// The accept loop and every forwarded connection: aborting them refuses new connections and
    /// drops open ones, as a server that went away does.
    tasks: Arc<Mutex<JoinSet<()>>>,
}

impl TcpProxy {
    /// Starts forwarding a fresh local port to `upstream` (`host:port`).
    pub async fn start(upstream: &str) -> Self {
        let upstream = tokio::net::lookup_host(upstream)
            .await
            .expect("resolve the upstream")
            .next()
            .expect("an upstream address");
        let mut proxy = Self {
            address: "127.0.0.1:0".parse().expect("address"),
            upstream,
            tasks: Arc::new(Mutex::new(JoinSet::new())),
        };
        proxy.restore();
        proxy
    }

    /// The upstream's URL with the proxy's address in place of the upstream's: `url` is
    /// `scheme://[user@]host:port[/rest]`.
    pub fn url_for(&self, url: &str) -> String {
        let (scheme, rest) = url.split_once("://").expect("a URL with a scheme");
        let (authority, path) = match rest.find('/') {
            Some(i) => rest.split_at(i),
            None => (rest, ""),
        };
        let user = authority
            .rsplit_once('@')
            .map(|(user, _)| format!("{user}@"))
            .unwrap_or_default();
        format!("{scheme}://{user}{}{path}", self.address)
    }

    /// The upstream goes away: open connections are dropped and new ones refused.
    pub fn cut(&self) {
        if let Ok(mut tasks) = self.tasks.lock() {
            tasks.abort_all();
        }
    }

    /// The upstream is back on the same address.
    pub fn restore(&mut self) {
        let socket = TcpSocket::new_v4().expect("socket");
        socket.set_reuseaddr(true).expect("SO_REUSEADDR");
        socket.bind(self.address).expect("bind the proxy port");
        let listener = socket.listen(128).expect("listen");
        self.address = listener.local_addr().expect("local address");
        let upstream = self.upstream;
        let tasks = Arc::clone(&self.tasks);
        let accepting = async move {
            while let Ok((mut client, _)) = listener.accept().await {
                let forward = async move {
                    if let Ok(mut server) = TcpStream::connect(upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                };
                if let Ok(mut tasks) = tasks.lock() {
                    tasks.spawn(forward);
                }
            }
        };
        if let Ok(mut tasks) = self.tasks.lock() {
            tasks.spawn(accepting);
        }
    }
}

impl Drop for TcpProxy {
    fn drop(&mut self) {
        self.cut();
    }
}
