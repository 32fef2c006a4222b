//! The load test (`bench --load`): while the server imports a file of clients uploaded over
//! HTTP, 50 readers ask for the Clients page over and over, each on its own connection per
//! request, and 300 wrong sign-ins for one account arrive from 10 senders. It prints the
//! latencies (p50/p95/p99/max) and errors of each kind of request, and passes only when
//! every reader got its page, every wrong sign-in was refused (401, or 429 once the limits
//! apply) and the import ended `success` with exactly the file's clients created.

use super::http::{PAGE_TIMEOUT, Serving, exchange, get};
use super::{Ctx, Db, Kind, Result, engine_db, tag, thousands};
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

pub const READERS: usize = 50;
pub const WRONG_SIGN_INS: usize = 300;
const SIGN_IN_SENDERS: usize = 10;

/// What one kind of request saw.
pub struct Requests {
    pub name: &'static str,
    pub latencies: Vec<Duration>,
    /// Answers by status, and transport failures as status 0.
    pub statuses: std::collections::BTreeMap<u16, u64>,
    /// Answers that should not have been given.
    pub errors: u64,
}

impl Requests {
    fn new(name: &'static str) -> Self {
        Requests {
            name,
            latencies: Vec::new(),
            statuses: Default::default(),
            errors: 0,
        }
    }

    fn percentile(&self, p: f64) -> Duration {
        let mut sorted = self.latencies.clone();
        sorted.sort_unstable();
        if sorted.is_empty() {
            return Duration::ZERO;
        }
        let at = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
        sorted[at.min(sorted.len() - 1)]
    }
}

/// One database's load test.
pub struct LoadRun {
    pub db: &'static str,
    pub kinds: Vec<Requests>,
    /// The import's status and created count, or why it could not be had.
    pub import: Result<(String, u64, f64)>,
    pub rows: u64,
}

impl LoadRun {
    pub fn passed(&self) -> bool {
        self.kinds.iter().all(|k| k.errors == 0)
            && matches!(&self.import, Ok((status, created, _)) if status == "success" && *created == self.rows)
    }
}

fn ms(d: Duration) -> String {
    format!("{:.0}", d.as_secs_f64() * 1000.0)
}

/// The results as a Markdown table.
pub fn table(runs: &[LoadRun]) -> String {
    let mut out = String::from(
        "| database | requests | count | p50 ms | p95 ms | p99 ms | max ms | answers | errors |\n\
         |---|---|---|---|---|---|---|---|---|\n",
    );
    for run in runs {
        for k in &run.kinds {
            let answers: Vec<String> = k
                .statuses
                .iter()
                .map(|(s, n)| {
                    if *s == 0 {
                        format!("{n} × no answer")
                    } else {
                        format!("{n} × {s}")
                    }
                })
                .collect();
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} | {} | {} | {} |",
                run.db,
                k.name,
                k.latencies.len(),
                ms(k.percentile(50.0)),
                ms(k.percentile(95.0)),
                ms(k.percentile(99.0)),
                ms(k.percentile(100.0)),
                answers.join(", "),
                k.errors
            );
        }
        let import = match &run.import {
            Ok((status, created, secs)) => format!(
                "{status}, {} created of {} in {secs:.1} s ({} rows/s)",
                thousands(*created),
                thousands(run.rows),
                thousands((run.rows as f64 / secs.max(0.001)) as u64)
            ),
            Err(e) => format!("FAILED: {e}"),
        };
        let _ = writeln!(
            out,
            "| {} | the import, meanwhile | 1 | | | | | {import} | {} |",
            run.db,
            if run.passed() { 0 } else { 1 }
        );
    }
    out
}

/// Runs the load test on `kind` with the client file `file` of `rows` rows.
pub fn run(ctx: &Ctx, kind: Kind, file: &Path, rows: u64) -> LoadRun {
    let name = match kind {
        Kind::Sqlite => "SQLite",
        Kind::Postgres => "PostgreSQL",
    };
    match run_on(ctx, kind, file, rows) {
        Ok(mut run) => {
            run.db = name;
            run
        }
        Err(e) => LoadRun {
            db: name,
            kinds: Vec::new(),
            import: Err(e),
            rows,
        },
    }
}

fn run_on(ctx: &Ctx, kind: Kind, file: &Path, rows: u64) -> Result<LoadRun> {
    let db: Db = engine_db(ctx, kind, &format!("load_{}", tag(kind)))?;
    let log = ctx.dir.join(format!("logs/load-{}.log", tag(kind)));
    let serving = Serving::start(ctx, &db, &log)?;
    let addr = serving.addr;
    let cookie = serving.cookie.clone();
    let body = std::fs::read(file).map_err(|e| format!("{}: {e}", file.display()))?;

    let importing = Arc::new(AtomicBool::new(true));
    let readers: Vec<_> = (0..READERS)
        .map(|_| {
            let (importing, cookie) = (importing.clone(), cookie.clone());
            std::thread::spawn(move || read_pages(addr, &cookie, &importing))
        })
        .collect();
    // The readers are at work before the import and the sign-ins start.
    std::thread::sleep(Duration::from_millis(500));
    let senders: Vec<_> = (0..SIGN_IN_SENDERS)
        .map(|_| std::thread::spawn(move || wrong_sign_ins(addr, WRONG_SIGN_INS / SIGN_IN_SENDERS)))
        .collect();
    let import = import(addr, &cookie, &body, rows);
    importing.store(false, Ordering::SeqCst);

    let mut pages = Requests::new("Clients page (50 readers)");
    for reader in readers {
        let seen = reader.join().map_err(|_| "a reader panicked")?;
        merge(&mut pages, seen);
    }
    let mut sign_ins = Requests::new("wrong sign-ins (300)");
    for sender in senders {
        let seen = sender.join().map_err(|_| "a sign-in sender panicked")?;
        merge(&mut sign_ins, seen);
    }
    serving.stop()?;
    Ok(LoadRun {
        db: "",
        kinds: vec![pages, sign_ins],
        import,
        rows,
    })
}

fn merge(into: &mut Requests, from: Requests) {
    into.latencies.extend(from.latencies);
    for (s, n) in from.statuses {
        *into.statuses.entry(s).or_default() += n;
    }
    into.errors += from.errors;
}

/// Asks for the Clients page until the import has ended (and at least once).
fn read_pages(addr: SocketAddr, cookie: &str, importing: &AtomicBool) -> Requests {
    let mut seen = Requests::new("");
    loop {
        let started = Instant::now();
        let answer = exchange(addr, &get(addr, "/clients", cookie), PAGE_TIMEOUT);
        seen.latencies.push(started.elapsed());
        let status = match &answer {
            // The list itself, or its empty state before the first clients are written.
            Ok((status, body))
                if *status == 200
                    && (body.contains("data-testid=\"client-count\"")
                        || body.contains("No clients yet")) =>
            {
                *status
            }
            Ok((status, _)) => {
                seen.errors += 1;
                *status
            }
            Err(_) => {
                seen.errors += 1;
                0
            }
        };
        *seen.statuses.entry(status).or_default() += 1;
        if !importing.load(Ordering::SeqCst) {
            return seen;
        }
    }
}

/// Sends `count` wrong passwords for one account, one after another.
fn wrong_sign_ins(addr: SocketAddr, count: usize) -> Requests {
    let mut seen = Requests::new("");
    let body = "email=target%40example.com&password=not-the-password-at-all";
    let request = format!(
        "POST /api/login HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/x-www-form-urlencoded\r\nAccept: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    for _ in 0..count {
        let started = Instant::now();
        let answer = exchange(addr, &request, PAGE_TIMEOUT);
        seen.latencies.push(started.elapsed());
        let status = match answer {
            Ok((status, _)) => status,
            Err(_) => 0,
        };
        if status != 401 && status != 429 {
            seen.errors += 1;
        }
        *seen.statuses.entry(status).or_default() += 1;
    }
    seen
}

/// Uploads the file, waits for the job to end and gives its status, created count and the
/// seconds from upload to end.
fn import(addr: SocketAddr, cookie: &str, file: &[u8], rows: u64) -> Result<(String, u64, f64)> {
    let started = Instant::now();
    let boundary = "loadtestboundary7d1f";
    let mut body = Vec::with_capacity(file.len() + 512);
    for (name, value) in [("title", "Load test"), ("action", "import-users")] {
        let _ = write!(
            Sink(&mut body),
            "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
        );
    }
    let _ = write!(
        Sink(&mut body),
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"clients.csv\"\r\nContent-Type: text/csv\r\n\r\n"
    );
    body.extend_from_slice(file);
    let _ = write!(Sink(&mut body), "\r\n--{boundary}--\r\n");
    let head = format!(
        "POST /api/v1/imports HTTP/1.1\r\nHost: {addr}\r\nOrigin: http://{addr}\r\nAccept: application/json\r\nCookie: {cookie}\r\nContent-Type: multipart/form-data; boundary={boundary}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let mut request = head.into_bytes();
    request.extend_from_slice(&body);
    let (status, answer) = super::http::exchange_bytes(addr, &request, PAGE_TIMEOUT)?;
    if status != 202 {
        return Err(format!("the upload answered {status}: {answer}"));
    }
    let id = number_after(&answer, "\"id\":").ok_or("the upload's answer has no job id")?;
    let deadline = Instant::now() + Duration::from_secs(3600);
    loop {
        std::thread::sleep(Duration::from_millis(200));
        let (status, job) = exchange(
            addr,
            &get(addr, &format!("/api/v1/imports/{id}"), cookie),
            PAGE_TIMEOUT,
        )?;
        if status != 200 {
            return Err(format!("the job answered {status}: {job}"));
        }
        let state = text_after(&job, "\"status\":\"").unwrap_or_default();
        if !["new", "in_progress"].contains(&state.as_str()) {
            let created = number_after(&job, "\"created\":").unwrap_or(0);
            let errors = number_after(&job, "\"errors\":").unwrap_or(0);
            if errors > 0 {
                return Err(format!("{state} with {errors} errors ({rows} rows)"));
            }
            return Ok((state, created, started.elapsed().as_secs_f64()));
        }
        if Instant::now() > deadline {
            return Err("the import did not end within an hour".into());
        }
    }
}

/// `write!` into a byte buffer.
struct Sink<'a>(&'a mut Vec<u8>);

impl std::fmt::Write for Sink<'_> {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        self.0.extend_from_slice(s.as_bytes());
        Ok(())
    }
}

fn number_after(text: &str, key: &str) -> Option<u64> {
    let at = text.find(key)? + key.len();
    let digits: String = text[at..]
        .trim_start()
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

fn text_after(text: &str, key: &str) -> Option<String> {
    let at = text.find(key)? + key.len();
    Some(text[at..].chars().take_while(|c| *c != '"').collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_pick_the_nearest_rank() {
        let mut k = Requests::new("x");
        k.latencies = (1..=100).map(Duration::from_millis).collect();
        assert_eq!(k.percentile(50.0), Duration::from_millis(51));
        assert_eq!(k.percentile(95.0), Duration::from_millis(95));
        assert_eq!(k.percentile(100.0), Duration::from_millis(100));
        assert_eq!(Requests::new("y").percentile(50.0), Duration::ZERO);
    }

    #[test]
    fn job_fields_are_read_from_its_json() {
        let job = r#"{"id":12,"status":"success","created":100000,"errors":0}"#;
        assert_eq!(number_after(job, "\"id\":"), Some(12));
        assert_eq!(number_after(job, "\"created\":"), Some(100_000));
        assert_eq!(text_after(job, "\"status\":\"").as_deref(), Some("success"));
    }
}
