//! The release server as the page-speed step and the revert talk to it: started with
//! `serve` on a free local port, signed in as the benchmark's admin, spoken to in plain
//! HTTP/1.1 with one connection per request (so each exchange is timed on its own).

use super::{BENCH_PASSWORD, BENCH_USER, Ctx, Db, Result, server, show};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

/// How long a page request may take before the reader gives up.
pub const PAGE_TIMEOUT: Duration = Duration::from_secs(60);

/// A running `server serve`, signed in; stopped when dropped (or by [`Serving::stop`]).
pub struct Serving {
    pub addr: SocketAddr,
    /// The session cookie (`crm_session=…`) of the benchmark's admin.
    pub cookie: String,
    /// `None` once reaped by `stop`, so that a drop never signals a pid that is no longer ours.
    child: Option<Child>,
    /// What the command was, for messages.
    shown: String,
}

impl Serving {
    /// Starts the server on `db` with its output in `log`, waits until it answers and
    /// signs in.
    pub fn start(ctx: &Ctx, db: &Db, log: &Path) -> Result<Serving> {
        let addr = free_port().map(|port| SocketAddr::from(([127, 0, 0, 1], port)))?;
        let out = std::fs::File::create(log).map_err(|e| format!("{}: {e}", log.display()))?;
        let err = out.try_clone().map_err(|e| e.to_string())?;
        let mut cmd = server(ctx, db);
        cmd.arg("serve")
            .env("LEPTOS_SITE_ADDR", addr.to_string())
            .env("IMPORT_WORKERS", "1")
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err);
        let child = cmd
            .spawn()
            .map_err(|e| format!("cannot start the server: {e}"))?;
        let mut serving = Serving {
            addr,
            cookie: String::new(),
            child: Some(child),
            shown: show(&cmd),
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(Ok(Some(status))) = serving.child.as_mut().map(Child::try_wait) {
                return Err(format!(
                    "the server stopped ({status}); see {}",
                    log.display()
                ));
            }
            if let Ok((200, _)) = exchange(addr, &get(addr, "/login", ""), PAGE_TIMEOUT) {
                break;
            }
            if Instant::now() >= deadline {
                return Err(format!(
                    "the server did not answer within a minute; see {}",
                    log.display()
                ));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        serving.cookie = sign_in(addr)?;
        Ok(serving)
    }

    /// Stops the server and gives its peak resident set size in kB over its whole life,
    /// read from `wait4` as for the timed processes.
    pub fn stop(mut self) -> Result<i64> {
        let Some(mut child) = self.child.take() else {
            return Err("the server was already stopped".into());
        };
        // Killed, not asked to stop: a graceful shutdown could wait on work in flight,
        // and the figures wanted are already taken.
        child
            .kill()
            .map_err(|e| format!("cannot stop {}: {e}", self.shown))?;
        let pid = child.id() as libc::pid_t;
        let mut status = 0;
        // SAFETY: a zeroed rusage is a valid out-parameter.
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        // SAFETY: reaps our own child, which std has not reaped (it only reaps in its own
        // wait functions, none of which ran on it).
        let rc = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
        if rc != pid {
            return Err(format!(
                "reaping {}: {}",
                self.shown,
                std::io::Error::last_os_error()
            ));
        }
        Ok(usage.ru_maxrss)
    }
}

impl Drop for Serving {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn free_port() -> Result<u16> {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| format!("no free port: {e}"))
}

/// A whole HTTP/1.1 exchange on its own connection: status and body. `timeout` bounds
/// each read of the answer.
pub fn exchange(addr: SocketAddr, request: &str, timeout: Duration) -> Result<(u16, String)> {
    exchange_bytes(addr, request.as_bytes(), timeout)
}

/// [`exchange`] of a request that is not all text (an upload).
pub fn exchange_bytes(
    addr: SocketAddr,
    request: &[u8],
    timeout: Duration,
) -> Result<(u16, String)> {
    let mut stream =
        TcpStream::connect(addr).map_err(|e| format!("cannot connect to {addr}: {e}"))?;
    stream
        .set_read_timeout(Some(timeout))
        .map_err(|e| e.to_string())?;
    stream
        .write_all(request)
        .map_err(|e| format!("cannot send: {e}"))?;
    let mut raw = Vec::new();
    stream
        .read_to_end(&mut raw)
        .map_err(|e| format!("cannot read the answer: {e}"))?;
    let text = String::from_utf8_lossy(&raw).into_owned();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("not an HTTP answer: {}", text.lines().next().unwrap_or("")))?;
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    Ok((status, body))
}

pub fn get(addr: SocketAddr, path: &str, cookie: &str) -> String {
    format!(
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nAccept: text/html\r\nCookie: {cookie}\r\nConnection: close\r\n\r\n"
    )
}

/// A body-less POST with the session, from this site as a browser would send it: the
/// server refuses state-changing requests whose `Origin` is another site (SPEC §8).
pub fn post(addr: SocketAddr, path: &str, cookie: &str) -> String {
    format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nOrigin: http://{addr}\r\nAccept: application/json\r\nCookie: {cookie}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )
}

/// Signs in as the benchmark's user and gives the session cookie.
fn sign_in(addr: SocketAddr) -> Result<String> {
    let body = format!("email={BENCH_USER}&password={BENCH_PASSWORD}").replace('@', "%40");
    let request = format!(
        "POST /api/login HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let mut stream = TcpStream::connect(addr).map_err(|e| e.to_string())?;
    stream
        .write_all(request.as_bytes())
        .map_err(|e| e.to_string())?;
    let mut raw = String::new();
    stream.read_to_string(&mut raw).map_err(|e| e.to_string())?;
    raw.lines()
        .take_while(|l| !l.is_empty())
        .filter_map(|l| {
            let (name, value) = l.split_once(':')?;
            name.eq_ignore_ascii_case("set-cookie")
                .then(|| value.trim().split(';').next().unwrap_or("").to_owned())
        })
        .find(|c| c.starts_with("crm_session="))
        .ok_or_else(|| {
            format!(
                "signing in gave no session: {}",
                raw.lines().next().unwrap_or("")
            )
        })
}
