//! Page speed (SPEC §9): with the large import's clients in the database, the release
//! server renders the Clients page (its first page, a search by email prefix, a sort by
//! name) to several signed-in readers at once; each request is timed from the moment it
//! is sent until the whole page has arrived.

use super::{BENCH_PASSWORD, BENCH_USER, Ctx, Db, Kind, Result, server, thousands};
use std::fmt::Write as _;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

/// Readers at once, and the requests each makes per page.
const READERS: usize = 4;
const REQUESTS_EACH: usize = 25;
/// The target of SPEC §9 for the 95th percentile.
const P95_TARGET_MS: f64 = 50.0;

/// One page's figures.
pub struct PageRow {
    pub page: String,
    pub kind: Kind,
    pub clients: u64,
    pub outcome: std::result::Result<Latency, String>,
}

pub struct Latency {
    pub requests: usize,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub max_ms: f64,
}

/// The server, stopped when dropped.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> Result<u16> {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| format!("no free port: {e}"))
}

/// A whole HTTP/1.1 exchange on its own connection: status and body.
fn exchange(addr: SocketAddr, request: &str) -> Result<(u16, String)> {
    let mut stream =
        TcpStream::connect(addr).map_err(|e| format!("cannot connect to {addr}: {e}"))?;
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .map_err(|e| e.to_string())?;
    stream
        .write_all(request.as_bytes())
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

fn get(addr: SocketAddr, path: &str, cookie: &str) -> String {
    format!(
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nAccept: text/html\r\nCookie: {cookie}\r\nConnection: close\r\n\r\n"
    )
}

/// Starts the server on `db` and waits until it answers.
fn start(ctx: &Ctx, db: &Db, addr: SocketAddr) -> Result<Running> {
    let log = ctx
        .dir
        .join(format!("logs/pages-{}-{}.log", super::tag(db.kind), db.tag));
    let out = std::fs::File::create(&log).map_err(|e| format!("{}: {e}", log.display()))?;
    let err = out.try_clone().map_err(|e| e.to_string())?;
    let child = server(ctx, db)
        .arg("serve")
        .env("LEPTOS_SITE_ADDR", addr.to_string())
        .env("IMPORT_WORKERS", "1")
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .spawn()
        .map_err(|e| format!("cannot start the server: {e}"))?;
    let mut running = Running(child);
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if let Ok(Some(status)) = running.0.try_wait() {
            return Err(format!(
                "the server stopped ({status}); see {}",
                log.display()
            ));
        }
        if let Ok((200, _)) = exchange(addr, &get(addr, "/login", "")) {
            return Ok(running);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Err(format!(
        "the server did not answer within a minute; see {}",
        log.display()
    ))
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

/// Times `READERS × REQUESTS_EACH` requests of `path`; every answer must be a 200 page
/// that holds `must_contain`.
fn time_page(addr: SocketAddr, cookie: &str, path: &str, must_contain: &str) -> Result<Latency> {
    // One untimed request first: the page works, and the database has warmed up.
    let (status, body) = exchange(addr, &get(addr, path, cookie))?;
    if status != 200 || !body.contains(must_contain) {
        return Err(format!("{path} answered {status} without `{must_contain}`"));
    }
    let results: Vec<Result<Vec<f64>>> = std::thread::scope(|s| {
        let readers: Vec<_> = (0..READERS)
            .map(|_| {
                s.spawn(|| {
                    let mut times = Vec::with_capacity(REQUESTS_EACH);
                    for _ in 0..REQUESTS_EACH {
                        let started = Instant::now();
                        let (status, body) = exchange(addr, &get(addr, path, cookie))?;
                        times.push(started.elapsed().as_secs_f64() * 1000.0);
                        if status != 200 || !body.contains(must_contain) {
                            return Err(format!(
                                "{path} answered {status} without `{must_contain}`"
                            ));
                        }
                    }
                    Ok(times)
                })
            })
            .collect();
        readers
            .into_iter()
            .map(|r| r.join().unwrap_or_else(|_| Err("a reader panicked".into())))
            .collect()
    });
    let mut times = Vec::new();
    for r in results {
        times.extend(r?);
    }
    times.sort_by(f64::total_cmp);
    let at = |q: f64| times[((times.len() as f64 * q).ceil() as usize).clamp(1, times.len()) - 1];
    Ok(Latency {
        requests: times.len(),
        p50_ms: at(0.50),
        p95_ms: at(0.95),
        max_ms: at(1.0),
    })
}

/// The three pages of SPEC §9 on `db`, which holds `clients` clients; `probe` is an email
/// in it, searched for by its prefix.
pub fn measure(ctx: &Ctx, db: &Db, clients: u64, probe: &str) -> Vec<PageRow> {
    let prefix = probe.split('@').next().unwrap_or(probe).to_owned();
    let pages = [
        (
            "Clients: first page",
            "/clients".to_owned(),
            "client-row".to_owned(),
        ),
        (
            "Clients: search by email prefix",
            format!("/clients?search={prefix}"),
            probe.to_owned(),
        ),
        (
            "Clients: sorted by last name",
            "/clients?sort=last_name".to_owned(),
            "client-row".to_owned(),
        ),
    ];
    let row = |page: &str, outcome| PageRow {
        page: page.to_owned(),
        kind: db.kind,
        clients,
        outcome,
    };
    let started = free_port()
        .map(|port| SocketAddr::from(([127, 0, 0, 1], port)))
        .and_then(|addr| Ok((addr, start(ctx, db, addr)?)))
        .and_then(|(addr, running)| Ok((addr, running, sign_in(addr)?)));
    let (addr, _running, cookie) = match started {
        Ok(s) => s,
        Err(e) => {
            eprintln!("\nFAILED: page speed on {}: {e}", db.kind.label());
            return pages
                .iter()
                .map(|(page, _, _)| row(page, Err(e.clone())))
                .collect();
        }
    };
    pages
        .iter()
        .map(|(page, path, needle)| {
            super::progress(&format!("{}: {page}", db.kind.label()));
            let outcome = time_page(addr, &cookie, path, needle);
            match &outcome {
                Ok(l) => println!("p95 {:.1} ms", l.p95_ms),
                Err(e) => println!("FAILED: {e}"),
            }
            row(page, outcome)
        })
        .collect()
}

/// The page-speed table.
pub fn table(rows: &[PageRow]) -> String {
    let mut out = format!(
        "| page | database | clients | requests ({READERS} readers at once) | p50 ms | p95 ms | max ms | target | result |\n\
         |---|---|--:|--:|--:|--:|--:|---|---|\n"
    );
    for r in rows {
        let (requests, p50, p95, max, result) = match &r.outcome {
            Ok(l) => (
                l.requests.to_string(),
                format!("{:.1}", l.p50_ms),
                format!("{:.1}", l.p95_ms),
                format!("{:.1}", l.max_ms),
                if l.p95_ms < P95_TARGET_MS {
                    "met"
                } else {
                    "MISSED"
                },
            ),
            Err(_) => ("—".into(), "—".into(), "—".into(), "—".into(), "FAILED"),
        };
        let _ = writeln!(
            out,
            "| {} | {} | {} | {requests} | {p50} | {p95} | {max} | p95 < {P95_TARGET_MS} ms | {result} |",
            r.page,
            r.kind.label(),
            thousands(r.clients),
        );
    }
    out
}
