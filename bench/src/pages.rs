//! Page speed (SPEC §9): with the large import's clients in the database (and the online
//! import's, which ran on top of them), the release server renders the Clients page (its
//! first page, a search by email prefix, a sort by name) to several signed-in readers at
//! once; each request is timed from the moment it is sent until the whole page has arrived.

use super::http::{PAGE_TIMEOUT, Serving, exchange, get};
use super::{Ctx, Db, Kind, Result, thousands};
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::time::Instant;

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

/// Times `READERS × REQUESTS_EACH` requests of `path`; every answer must be a 200 page
/// that holds `must_contain`.
fn time_page(addr: SocketAddr, cookie: &str, path: &str, must_contain: &str) -> Result<Latency> {
    // One untimed request first: the page works, and the database has warmed up.
    let (status, body) = exchange(addr, &get(addr, path, cookie), PAGE_TIMEOUT)?;
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
                        let (status, body) =
                            exchange(addr, &get(addr, path, cookie), PAGE_TIMEOUT)?;
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
/// in it, searched for by its prefix, and `external_id` the value of that client's extra
/// attribute `External ID` (every client has two extra attributes), searched for as a
/// fourth page.
pub fn measure(ctx: &Ctx, db: &Db, clients: u64, probe: &str, external_id: &str) -> Vec<PageRow> {
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
        (
            "Clients: search by an extra attribute",
            format!("/clients?search={external_id}"),
            probe.to_owned(),
        ),
    ];
    let row = |page: &str, outcome| PageRow {
        page: page.to_owned(),
        kind: db.kind,
        clients,
        outcome,
    };
    let log = ctx
        .dir
        .join(format!("logs/pages-{}-{}.log", super::tag(db.kind), db.tag));
    let serving = match Serving::start(ctx, db, &log) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("\nFAILED: page speed on {}: {e}", db.kind.label());
            return pages
                .iter()
                .map(|(page, _, _)| row(page, Err(e.clone())))
                .collect();
        }
    };
    let (addr, cookie) = (serving.addr, serving.cookie.as_str());
    pages
        .iter()
        .map(|(page, path, needle)| {
            super::progress(&format!("{}: {page}", db.kind.label()));
            let outcome = time_page(addr, cookie, path, needle);
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
