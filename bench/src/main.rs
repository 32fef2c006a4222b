//! The import benchmark of SPEC §9. Run it with `bash scripts/bench.sh [--quick]`.
//!
//! It generates deterministic client files under `target/bench/`, imports them with the
//! release server's `import` command on SQLite and on PostgreSQL (a fresh database for every
//! scenario), loads the large file raw with `sqlite3 .import` and `psql \copy` for reference,
//! measures wall time and peak RSS of each process, checks that every import really did what
//! it should. With the large import's clients still in the database it imports a second
//! file of as many new clients (the online import), times the Clients page under concurrent
//! readers (see `pages`) and reverts the large import through the HTTP API. It prints the
//! tables and appends them to `bench/results.md`.
//!
//! The benchmark is its own crate and uses no code of the server: it drives the release
//! binary as a child process, as an operator would, so what it measures is what ships.

mod http;
mod load;
mod pages;

use clap::{Parser, ValueEnum};
use std::fmt::Write as _;
use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

type Result<T, E = String> = std::result::Result<T, E>;

#[derive(Parser)]
#[command(name = "bench", about = "Import benchmark (SPEC §9)")]
struct Args {
    /// Use 100,000 rows instead of 1,000,000 for the large import (a fast trial run).
    #[arg(long)]
    quick: bool,
    /// Rows of the large import; overrides --quick.
    #[arg(long, env = "BENCH_ROWS")]
    rows: Option<u64>,
    /// The databases to run on.
    #[arg(long, value_enum, default_value_t = Only::Both)]
    db: Only,
    /// A PostgreSQL database to connect to for creating and dropping the benchmark's own.
    #[arg(
        long,
        env = "BENCH_POSTGRES_URL",
        default_value = "postgres://postgres@127.0.0.1:5432/postgres"
    )]
    postgres: String,
    /// The release server binary.
    #[arg(long, default_value = "target/release/server")]
    server: PathBuf,
    /// Where the generated files, databases and logs go.
    #[arg(long, default_value = "target/bench")]
    dir: PathBuf,
    /// The file the results are appended to.
    #[arg(long, default_value = "bench/results.md")]
    results: PathBuf,
    /// Print the table without appending it to the results file.
    #[arg(long)]
    no_record: bool,
    /// A process still running after this many seconds is killed and its row marked FAILED
    /// (the revert's HTTP answer is awaited as long).
    #[arg(long, default_value_t = 1800)]
    timeout: u64,
    /// Rows of the memory run, a fresh import that shows the peak memory does not grow with
    /// the file [default: 5 × the large import's rows].
    #[arg(long)]
    memory_rows: Option<u64>,
    /// Leave out the memory run (its file and its imports are the longest part of a run).
    #[arg(long)]
    skip_memory_run: bool,
    /// A note for the results' heading, e.g. which build `--server` is when it is not the
    /// one of the checked-out commit (a before/after comparison in one sitting).
    #[arg(long)]
    label: Option<String>,
    /// Run the load test instead: 50 readers of the Clients page and 300 wrong sign-ins
    /// while a file of 100,000 clients (or `--rows`) is imported over HTTP.
    #[arg(long)]
    load: bool,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Only {
    Sqlite,
    Postgres,
    Both,
}

const SMALL_ROWS: u64 = 5_000;
const BASE_ROWS: u64 = 100_000;
const UPDATE_ROWS: u64 = 5_000;
/// Rows of the file whose emails all have the local part `info`.
const SAME_NAME_ROWS: u64 = 5_000;
/// The memory run's file is this many times the large one.
const MEMORY_FACTOR: u64 = 5;
const BENCH_USER: &str = "bench@example.com";
const BENCH_PASSWORD: &str = "bench-password-not-secret";

fn main() -> std::process::ExitCode {
    match run(Args::parse()) {
        Ok(true) => std::process::ExitCode::SUCCESS,
        Ok(false) => std::process::ExitCode::from(2),
        Err(e) => {
            eprintln!("bench: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// The load test (`--load`): its table is printed and appended to the results file.
fn run_load(args: Args) -> Result<bool> {
    let rows = args.rows.unwrap_or(BASE_ROWS);
    if rows == 0 {
        return Err("--rows must be greater than 0".into());
    }
    let (dir, server) = folders(&args)?;
    // Read before the runs: the commit that was just built.
    let mut heading = heading_line(&args, "Load test · ");
    let file = dir.join(format!("clients-{rows}.csv"));
    write_clients(&file, 0..rows, Client::email)?;
    let ctx = Ctx {
        server,
        dir,
        postgres: args.postgres.clone(),
        timeout: Duration::from_secs(args.timeout),
        max_rows: rows,
        max_bytes: file_size(&file)?.max(5 * 1024 * 1024),
    };
    let mut runs = Vec::new();
    for kind in kinds(args.db) {
        progress(&format!("load test on {}", tag(kind)));
        let run = load::run(&ctx, kind, &file, rows);
        println!("{}", if run.passed() { "done" } else { "FAILED" });
        runs.push(run);
    }
    let table = load::table(&runs);
    println!("\n{table}");
    let passed = runs.iter().all(load::LoadRun::passed);
    if !args.no_record {
        heading.push_str(only_one_database(&args));
        let _ = write!(
            heading,
            "\n\n{} readers of the Clients page and {} wrong sign-ins for one account while {} \
             clients are imported over HTTP (`bench --load`).",
            load::READERS,
            load::WRONG_SIGN_INS,
            thousands(rows)
        );
        let notes = if passed {
            String::new()
        } else {
            "\nSome requests failed, or the import did not create every client.\n".to_owned()
        };
        record(&args.results, &heading, &table, &notes)?;
    }
    Ok(passed)
}

/// The working folder (created, with its `logs/`) and the server binary, as absolute paths.
fn folders(args: &Args) -> Result<(PathBuf, PathBuf)> {
    fs::create_dir_all(args.dir.join("logs"))
        .map_err(|e| format!("cannot create {}: {e}", args.dir.display()))?;
    let dir = fs::canonicalize(&args.dir)
        .map_err(|e| format!("cannot resolve {}: {e}", args.dir.display()))?;
    let server = fs::canonicalize(&args.server).map_err(|e| {
        format!(
            "no server binary at {} ({e}); build it with `cargo build --release -p server`",
            args.server.display()
        )
    })?;
    Ok((dir, server))
}

/// The databases `--db` asks for, in the order they run.
fn kinds(only: Only) -> Vec<Kind> {
    match only {
        Only::Sqlite => vec![Kind::Sqlite],
        Only::Postgres => vec![Kind::Postgres],
        Only::Both => vec![Kind::Sqlite, Kind::Postgres],
    }
}

/// Runs every scenario; `Ok(false)` when some run failed (targets missed are not failures).
fn run(args: Args) -> Result<bool> {
    if args.load {
        return run_load(args);
    }
    let large = args
        .rows
        .unwrap_or(if args.quick { 100_000 } else { 1_000_000 });
    if large == 0 {
        return Err("--rows must be greater than 0".into());
    }
    // The online import's file is numbered on from the large one.
    large
        .checked_mul(2)
        .ok_or("--rows is too large to number the online import's clients")?;
    let memory_rows = if args.skip_memory_run {
        None
    } else {
        let rows = match args.memory_rows {
            Some(rows) => rows,
            None => large
                .checked_mul(MEMORY_FACTOR)
                .ok_or("--rows is too large for the memory run; give --memory-rows")?,
        };
        if rows == 0 {
            return Err("--memory-rows must be greater than 0".into());
        }
        Some(rows)
    };
    let (dir, server) = folders(&args)?;

    // Read before the runs: the commit that was just built.
    let heading = heading(large, memory_rows, &args);
    let files = generate(&dir, large, memory_rows)?;
    let mut biggest = 0;
    for file in [&files.large, &files.offset]
        .into_iter()
        .chain(files.memory.as_ref())
    {
        biggest = biggest.max(file_size(file)?);
    }
    let ctx = Ctx {
        server,
        dir,
        postgres: args.postgres.clone(),
        timeout: Duration::from_secs(args.timeout),
        max_rows: large.max(memory_rows.unwrap_or(0)).max(2_000_000),
        max_bytes: biggest.max(500_000_000),
    };
    let kinds = kinds(args.db);

    let mut rows = Vec::new();
    let mut page_rows = Vec::new();
    for &kind in &kinds {
        let raw = raw_load(&ctx, kind, &files.large, large);
        let raw_secs = raw.secs();
        rows.push(raw);
        let (row, db) = fresh_import_keeping(
            &ctx,
            kind,
            "import-users, fresh",
            &files.large,
            fresh(large),
            Goal::fresh_large(kind, raw_secs),
        );
        rows.push(row);
        // The online import, the pages and the revert all work on the clients the large
        // import left, so they run only when it did its job.
        let online = online_import(&ctx, kind, db.as_ref(), &files.offset, large);
        let online_done = matches!(online.outcome, Outcome::Done { .. });
        rows.push(online);
        if let Some(db) = &db {
            // The pages see the online import's clients too: the table says how many.
            let clients = match db.count("client") {
                Ok(n) => n,
                Err(e) => {
                    eprintln!("warning: cannot count the clients for the page table: {e}");
                    if online_done { 2 * large } else { large }
                }
            };
            let probe = Client::new(large / 2).email();
            match with_attributes(db, &probe) {
                Ok(external_id) => {
                    page_rows.extend(pages::measure(&ctx, db, clients, &probe, &external_id));
                }
                Err(e) => eprintln!("\nFAILED: extra attributes for the page table: {e}"),
            }
            // The revert measures what the import wrote, not the attributes added here.
            if let Err(e) = db.query(&format!(
                "DELETE FROM client_attribute WHERE name IN ({ATTRIBUTES})"
            )) {
                eprintln!("warning: could not remove the extra attributes: {e}");
            }
        }
        rows.push(revert_large(&ctx, kind, db.as_ref(), large, online_done));
    }
    for &kind in &kinds {
        rows.push(fresh_import(
            &ctx,
            kind,
            "import-users, fresh",
            &files.small,
            fresh(SMALL_ROWS),
            Goal::Seconds(0.3),
        ));
    }
    for &kind in &kinds {
        let mut expect = fresh(SAME_NAME_ROWS);
        // Every username starts from `info`: each must still be made unique.
        expect.values.push((
            "SELECT count(DISTINCT username) FROM client".into(),
            SAME_NAME_ROWS.to_string(),
        ));
        rows.push(fresh_import(
            &ctx,
            kind,
            "import-users, fresh, one email local part",
            &files.same_name,
            expect,
            Goal::Seconds(1.0),
        ));
    }
    for &kind in &kinds {
        rows.extend(update_scenario(&ctx, kind, &files));
    }
    if let (Some(file), Some(memory_rows)) = (&files.memory, memory_rows) {
        for &kind in &kinds {
            rows.push(fresh_import(
                &ctx,
                kind,
                "import-users, fresh (memory run)",
                file,
                fresh(memory_rows),
                Goal::Memory,
            ));
        }
    }

    let mut table = table(&rows);
    if !page_rows.is_empty() {
        table.push('\n');
        table.push_str(&pages::table(&page_rows));
    }
    let notes = failure_notes(&rows);
    println!("\n{heading}\n\n{table}{notes}");
    if !args.no_record {
        record(&args.results, &heading, &table, &notes)?;
        println!("Appended to {}.", args.results.display());
    }
    Ok(rows
        .iter()
        .all(|r| !matches!(r.outcome, Outcome::Failed(_)))
        && page_rows.iter().all(|r| r.outcome.is_ok()))
}

// ---------------------------------------------------------------------------------------
// Data

/// The generated files.
struct Files {
    small: PathBuf,
    base: PathBuf,
    large: PathBuf,
    /// As many clients as the large file, numbered on from its last: the online import.
    offset: PathBuf,
    /// `SAME_NAME_ROWS` clients whose emails all have the local part `info`.
    same_name: PathBuf,
    /// The memory run's file, unless it is left out.
    memory: Option<PathBuf>,
    update: PathBuf,
    /// The clients the update file changes, with the phone and city they get.
    updated: Vec<(String, String, String)>,
}

fn generate(dir: &Path, large: u64, memory_rows: Option<u64>) -> Result<Files> {
    let started = Instant::now();
    let path = |rows: u64| dir.join(format!("clients-{rows}.csv"));
    let mut counts = vec![SMALL_ROWS, BASE_ROWS, large];
    counts.extend(memory_rows);
    counts.sort_unstable();
    counts.dedup();
    let mut written = Vec::new();
    for &n in &counts {
        write_clients(&path(n), 0..n, Client::email)?;
        written.push(format!("clients-{n}.csv"));
    }
    // Client numbers from `large` on: `Client::email` holds the number, so none of these
    // emails is one of the large file's.
    let offset = dir.join(format!("clients-offset-{large}.csv"));
    write_clients(&offset, large..2 * large, Client::email)?;
    written.push(format!("clients-offset-{large}.csv"));
    let same_name = dir.join(format!("same-name-{SAME_NAME_ROWS}.csv"));
    write_clients(&same_name, 0..SAME_NAME_ROWS, |c| {
        format!("info@d{}.example", c.i + 1)
    })?;
    written.push(format!("same-name-{SAME_NAME_ROWS}.csv"));
    let update = dir.join(format!("update-{UPDATE_ROWS}.csv"));
    let updated = write_update(&update)?;
    written.push(format!("update-{UPDATE_ROWS}.csv"));
    println!(
        "Generated {} in {:.1} s.",
        written.join(", "),
        started.elapsed().as_secs_f64()
    );
    Ok(Files {
        small: path(SMALL_ROWS),
        base: path(BASE_ROWS),
        large: path(large),
        offset,
        same_name,
        memory: memory_rows.map(path),
        update,
        updated,
    })
}

const HEADER: &str =
    "Email,First name,Last name,Date of birth,Country,Phone number,Address,City,Postal code";

/// The columns of the raw-load tables, in the order of [`HEADER`].
const RAW_COLUMNS: &str = "email text not null, first_name text, last_name text, \
    date_of_birth text, country text, phone text, address text, city text, postal_code text";

fn create_file(path: &Path) -> Result<BufWriter<File>> {
    File::create(path)
        .map(|f| BufWriter::with_capacity(1 << 20, f))
        .map_err(|e| format!("cannot create {}: {e}", path.display()))
}

/// Writes clients number `numbers`, each with the email `email` gives it.
fn write_clients(
    path: &Path,
    numbers: std::ops::Range<u64>,
    email: impl Fn(&Client) -> String,
) -> Result<()> {
    let write = || -> std::io::Result<()> {
        let mut w = create_file(path).map_err(std::io::Error::other)?;
        writeln!(w, "{HEADER}")?;
        for i in numbers.clone() {
            let c = Client::new(i);
            write!(
                w,
                "{},{},{},{},{},{},",
                email(&c),
                c.first.0,
                c.last.0,
                c.date_of_birth(),
                c.country.code,
                c.phone(c.phone_digits()),
            )?;
            match c.flat {
                Some(flat) => write!(w, "\"{} {}, Flat {flat}\",", c.house, c.street)?,
                None => write!(w, "{} {},", c.house, c.street)?,
            }
            writeln!(w, "{},{:05}", c.city(0), c.postal_code)?;
        }
        w.flush()
    };
    write().map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// Writes the partial-update file: new phone and city for clients spread over the base
/// file, found by email. Returns (email, expected phone as stored, expected city).
fn write_update(path: &Path) -> Result<Vec<(String, String, String)>> {
    let stride = BASE_ROWS / UPDATE_ROWS;
    let mut updated = Vec::with_capacity(UPDATE_ROWS as usize);
    let write = |updated: &mut Vec<_>| -> std::io::Result<()> {
        let mut w = create_file(path).map_err(std::io::Error::other)?;
        writeln!(w, "Email,Phone,City")?;
        for k in 0..UPDATE_ROWS {
            let c = Client::new(k * stride + hash(k, 7) % stride);
            let old = c.phone_digits();
            let mut digits = c.national_digits(hash(c.i, 99));
            if digits == old {
                digits = c.national_digits(hash(c.i, 100));
            }
            let (phone, city) = (c.phone(digits), c.city(1));
            writeln!(w, "{},{phone},{city}", c.email())?;
            updated.push((c.email(), phone.replace(' ', ""), city.to_owned()));
        }
        w.flush()
    };
    write(&mut updated).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    Ok(updated)
}

/// SplitMix64 of a row number and a salt: every field of a row is a pure function of its
/// number, so the files are identical on every run and prefixes of one another.
fn hash(i: u64, salt: u64) -> u64 {
    let mut z = i
        .wrapping_mul(0x9E37_79B9_7F4A_7C15)
        .wrapping_add(salt.wrapping_mul(0xD1B5_4A32_D192_ED03));
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn pick<T: Copy>(items: &[T], h: u64) -> T {
    items[(h % items.len() as u64) as usize]
}

#[derive(Clone, Copy)]
struct Country {
    code: &'static str,
    dial: &'static str,
    /// Digits of a national number.
    digits: u32,
    cities: &'static [&'static str],
}

const fn country(
    code: &'static str,
    dial: &'static str,
    digits: u32,
    cities: &'static [&'static str],
) -> Country {
    Country {
        code,
        dial,
        digits,
        cities,
    }
}

#[rustfmt::skip]
const COUNTRIES: &[Country] = &[
    country("GB", "44", 10, &["London", "Manchester", "Birmingham", "Leeds", "Glasgow"]),
    country("DE", "49", 10, &["Berlin", "Hamburg", "München", "Köln", "Frankfurt am Main"]),
    country("FR", "33", 9, &["Paris", "Lyon", "Marseille", "Toulouse", "Nice"]),
    country("ES", "34", 9, &["Madrid", "Barcelona", "Valencia", "Sevilla"]),
    country("IT", "39", 10, &["Roma", "Milano", "Napoli", "Torino"]),
    country("PL", "48", 9, &["Warszawa", "Kraków", "Łódź", "Wrocław"]),
    country("NL", "31", 9, &["Amsterdam", "Rotterdam", "Utrecht"]),
    country("CH", "41", 9, &["Zürich", "Genève", "Basel"]),
    country("CY", "357", 8, &["Limassol", "Nicosia", "Larnaca"]),
    country("AE", "971", 9, &["Dubai", "Abu Dhabi", "Sharjah"]),
    country("TR", "90", 10, &["İstanbul", "Ankara", "İzmir"]),
    country("US", "1", 10, &["New York", "Chicago", "Houston", "Miami"]),
    country("BR", "55", 11, &["São Paulo", "Rio de Janeiro", "Brasília"]),
    country("ZA", "27", 9, &["Johannesburg", "Cape Town", "Durban"]),
    country("NG", "234", 10, &["Lagos", "Abuja", "Port Harcourt"]),
    country("IN", "91", 10, &["Mumbai", "Delhi", "Bengaluru"]),
    country("TH", "66", 9, &["Bangkok", "Chiang Mai", "Phuket"]),
    country("MY", "60", 9, &["Kuala Lumpur", "George Town", "Johor Bahru"]),
    country("JP", "81", 10, &["Tokyo", "Osaka", "Yokohama"]),
    country("AU", "61", 9, &["Sydney", "Melbourne", "Brisbane"]),
];

/// A name as written, and as it appears in an email address.
type Name = (&'static str, &'static str);

#[rustfmt::skip]
const FIRST_NAMES: &[Name] = &[
    ("James", "james"), ("Olivia", "olivia"), ("Mohammed", "mohammed"), ("Sofía", "sofia"),
    ("Lukas", "lukas"), ("Emma", "emma"), ("Mateo", "mateo"), ("Chloé", "chloe"),
    ("Aleksander", "aleksander"), ("Zofia", "zofia"), ("Giulia", "giulia"),
    ("Lorenzo", "lorenzo"), ("Daan", "daan"), ("Fatima", "fatima"), ("Omar", "omar"),
    ("Elif", "elif"), ("Mehmet", "mehmet"), ("Priya", "priya"), ("Arjun", "arjun"),
    ("Chinedu", "chinedu"), ("Amara", "amara"), ("Thabo", "thabo"), ("Lucas", "lucas"),
    ("Ana", "ana"), ("Hiroshi", "hiroshi"), ("Yuki", "yuki"), ("Somchai", "somchai"),
    ("Nurul", "nurul"), ("Jack", "jack"), ("Charlotte", "charlotte"), ("Andreas", "andreas"),
    ("Eleni", "eleni"), ("Noah", "noah"), ("Mia", "mia"), ("Liam", "liam"), ("Hannah", "hannah"),
];

#[rustfmt::skip]
const LAST_NAMES: &[Name] = &[
    ("Smith", "smith"), ("O'Brien", "obrien"), ("Müller", "mueller"), ("Schmidt", "schmidt"),
    ("García", "garcia"), ("Fernández", "fernandez"), ("Rossi", "rossi"), ("Bianchi", "bianchi"),
    ("Dubois", "dubois"), ("Lefèvre", "lefevre"), ("Nowak", "nowak"),
    ("Wiśniewska", "wisniewska"), ("de Vries", "devries"), ("Jansen", "jansen"),
    ("Al-Mansouri", "almansouri"), ("Haddad", "haddad"), ("Yılmaz", "yilmaz"), ("Kaya", "kaya"),
    ("Sharma", "sharma"), ("Patel", "patel"), ("Okafor", "okafor"), ("Adeyemi", "adeyemi"),
    ("Nkosi", "nkosi"), ("Silva", "silva"), ("Santos", "santos"), ("Tanaka", "tanaka"),
    ("Suzuki", "suzuki"), ("Wongsakul", "wongsakul"), ("Abdullah", "abdullah"),
    ("Johnson", "johnson"), ("Williams", "williams"), ("Georgiou", "georgiou"),
    ("Papadopoulos", "papadopoulos"), ("Brown", "brown"), ("Taylor", "taylor"),
    ("Martin", "martin"),
];

#[rustfmt::skip]
const STREETS: &[&str] = &[
    "High Street", "Station Road", "Church Lane", "Hauptstraße", "Rue de la Paix", "Calle Mayor",
    "Via Roma", "ul. Długa", "Keizersgracht", "Bahnhofstrasse", "Makariou Avenue",
    "Sheikh Zayed Road", "Main Street", "Rua Augusta", "Long Street", "Marine Drive",
    "Sukhumvit Road", "Jalan Ampang", "George Street",
];

#[rustfmt::skip]
const DOMAINS: &[&str] = &[
    "example.com", "example.net", "example.org", "mail.example.com", "inbox.example.net",
];

/// Client number `i` of every generated file.
struct Client {
    i: u64,
    first: Name,
    last: Name,
    domain: &'static str,
    country: Country,
    city: u64,
    born: (u64, u64, u64),
    house: u64,
    street: &'static str,
    flat: Option<u64>,
    postal_code: u64,
}

impl Client {
    fn new(i: u64) -> Client {
        let h = hash(i, 1);
        let g = hash(i, 2);
        Client {
            i,
            first: pick(FIRST_NAMES, h),
            last: pick(LAST_NAMES, h >> 16),
            domain: pick(DOMAINS, h >> 32),
            country: pick(COUNTRIES, h >> 40),
            city: g % 64,
            born: (1950 + (g >> 8) % 56, 1 + (g >> 16) % 12, 1 + (g >> 24) % 28),
            house: 1 + (g >> 32) % 250,
            street: pick(STREETS, g >> 40),
            flat: (g >> 48).is_multiple_of(3).then_some(1 + (g >> 50) % 40),
            postal_code: (g >> 20) % 100_000,
        }
    }

    /// Unique per client number: the number ends the local part and no name holds a digit,
    /// so two numbers never give the same address (the online import relies on it).
    fn email(&self) -> String {
        format!(
            "{}.{}{}@{}",
            self.first.1,
            self.last.1,
            self.i + 1,
            self.domain
        )
    }

    fn date_of_birth(&self) -> String {
        let (y, m, d) = self.born;
        format!("{y}-{m:02}-{d:02}")
    }

    /// The client's city, or (`shift` 1) another city of the same country.
    fn city(&self, shift: u64) -> &'static str {
        pick(self.country.cities, self.city + shift)
    }

    fn national_digits(&self, h: u64) -> u64 {
        let low = 10u64.pow(self.country.digits - 1);
        low + h % (9 * low)
    }

    fn phone_digits(&self) -> u64 {
        self.national_digits(hash(self.i, 3))
    }

    /// In international form, with a space after the country code as people write it.
    fn phone(&self, national: u64) -> String {
        format!("+{} {national}", self.country.dial)
    }
}

fn file_size(path: &Path) -> Result<u64> {
    fs::metadata(path)
        .map(|m| m.len())
        .map_err(|e| format!("cannot read {}: {e}", path.display()))
}

// ---------------------------------------------------------------------------------------
// Databases and processes

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Sqlite,
    Postgres,
}

impl Kind {
    fn label(self) -> &'static str {
        match self {
            Kind::Sqlite => "SQLite",
            Kind::Postgres => "PostgreSQL",
        }
    }
}

struct Ctx {
    server: PathBuf,
    dir: PathBuf,
    postgres: String,
    timeout: Duration,
    max_rows: u64,
    max_bytes: u64,
}

/// A fresh database for one scenario, removed when dropped.
struct Db {
    kind: Kind,
    /// The scenario it is for: part of its name and of its log files' names.
    tag: String,
    /// SQLite: the file. PostgreSQL: the database name.
    name: String,
    /// PostgreSQL: the URL the database is created and dropped through.
    admin_url: String,
}

/// The extra attributes every client gets before the pages are timed.
const ATTRIBUTES: &str = "'External ID', 'AffiliateID'";

/// Gives every client of `db` two extra attributes, as a Wifox export kept whole would:
/// `External ID` (`EXT-<id>`, unique) and `AffiliateID` (`AFF-<id mod 1000>`, shared by a
/// thousand clients each). Answers the `External ID` of the client with email `probe`.
fn with_attributes(db: &Db, probe: &str) -> Result<String> {
    progress(&format!(
        "{}: 2 extra attributes for every client",
        db.kind.label()
    ));
    let started = Instant::now();
    let cast = match db.kind {
        Kind::Sqlite => "CAST(id AS TEXT)",
        Kind::Postgres => "id::text",
    };
    db.query(&format!(
        "INSERT INTO client_attribute (client_id, name, value) \
         SELECT id, 'External ID', 'EXT-' || {cast} FROM client; \
         INSERT INTO client_attribute (client_id, name, value) \
         SELECT id, 'AffiliateID', 'AFF-' || CAST(id % 1000 AS TEXT) FROM client; \
         ANALYZE"
    ))?;
    let id = db.query(&format!("SELECT id FROM client WHERE email = '{probe}'"))?;
    println!(
        "{} rows in {:.1} s",
        thousands(db.count("client_attribute")?),
        started.elapsed().as_secs_f64()
    );
    Ok(format!("EXT-{id}"))
}

impl Db {
    fn create(ctx: &Ctx, kind: Kind, tag: &str) -> Result<Db> {
        let db = Db {
            kind,
            tag: tag.to_owned(),
            name: match kind {
                Kind::Sqlite => ctx.dir.join(format!("{tag}.db")).display().to_string(),
                Kind::Postgres => format!("crm_bench_{}_{tag}", std::process::id()),
            },
            admin_url: ctx.postgres.clone(),
        };
        db.remove();
        if kind == Kind::Postgres {
            psql(&db.admin_url, &format!("CREATE DATABASE {}", db.name))?;
        }
        Ok(db)
    }

    /// The `DATABASE_URL` of the server.
    fn url(&self) -> String {
        match self.kind {
            Kind::Sqlite => format!("sqlite://{}?mode=rwc", self.name),
            Kind::Postgres => {
                let base = self
                    .admin_url
                    .rsplit_once('/')
                    .map_or(self.admin_url.as_str(), |(base, _)| base);
                format!("{base}/{}", self.name)
            }
        }
    }

    /// One value (or `|`-separated values) from a query, trimmed.
    fn query(&self, sql: &str) -> Result<String> {
        match self.kind {
            Kind::Sqlite => run_quiet(Command::new("sqlite3").args(["-batch", &self.name, sql])),
            Kind::Postgres => psql(&self.url(), sql),
        }
        .map(|out| out.trim().to_owned())
    }

    fn count(&self, table: &str) -> Result<u64> {
        self.count_where(table, "1 = 1")
    }

    fn count_where(&self, table: &str, condition: &str) -> Result<u64> {
        let text = self.query(&format!("SELECT count(*) FROM {table} WHERE {condition}"))?;
        text.parse()
            .map_err(|_| format!("counting {table} gave `{text}`, not a number"))
    }

    /// Runs a command against the database: the SQLite file, or psql on the database.
    fn client_command(&self, command: &str) -> Command {
        let mut cmd;
        match self.kind {
            Kind::Sqlite => {
                cmd = Command::new("sqlite3");
                cmd.args(["-batch", "-bail", &self.name, command]);
            }
            Kind::Postgres => {
                cmd = Command::new("psql");
                cmd.args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", &self.url()])
                    .args(["-c", command])
                    .env("PGCLIENTENCODING", "UTF8");
            }
        }
        cmd
    }

    fn remove(&self) {
        match self.kind {
            Kind::Sqlite => {
                for suffix in ["", "-wal", "-shm", "-journal"] {
                    let _ = fs::remove_file(format!("{}{suffix}", self.name));
                }
            }
            Kind::Postgres => {
                let drop = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name);
                if let Err(e) = psql(&self.admin_url, &drop) {
                    eprintln!("warning: could not drop database {}: {e}", self.name);
                }
            }
        }
    }
}

impl Drop for Db {
    fn drop(&mut self) {
        self.remove();
    }
}

fn psql(url: &str, sql: &str) -> Result<String> {
    run_quiet(
        Command::new("psql")
            .args([
                "-X",
                "-q",
                "-A",
                "-t",
                "-v",
                "ON_ERROR_STOP=1",
                "-d",
                url,
                "-c",
                sql,
            ])
            .env("PGCLIENTENCODING", "UTF8"),
    )
}

/// Runs a short helper command and returns its standard output; any failure is an error
/// with the command's output.
fn run_quiet(cmd: &mut Command) -> Result<String> {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run {}: {e}", show(cmd)))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(format!(
            "{} failed ({}): {}{}",
            show(cmd),
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

fn show(cmd: &Command) -> String {
    let mut text = cmd.get_program().to_string_lossy().into_owned();
    for arg in cmd.get_args() {
        text.push(' ');
        text.push_str(&arg.to_string_lossy());
    }
    text
}

/// What a timed process took.
struct Measured {
    secs: f64,
    peak_rss_kb: i64,
    status: ExitStatus,
    timed_out: bool,
    /// Standard output and error, interleaved.
    output: String,
}

/// Runs `cmd` with its output in `log`, timing it from spawn to exit and reading its own
/// peak resident set size from `wait4`. It is killed after `timeout`.
fn measure(cmd: &mut Command, log: &Path, timeout: Duration) -> Result<Measured> {
    let out = File::create(log).map_err(|e| format!("cannot create {}: {e}", log.display()))?;
    let err = out
        .try_clone()
        .map_err(|e| format!("cannot create {}: {e}", log.display()))?;
    cmd.stdin(Stdio::null()).stdout(out).stderr(err);

    let started = Instant::now();
    let child = cmd
        .spawn()
        .map_err(|e| format!("cannot run {}: {e}", show(cmd)))?;
    let pid = child.id() as libc::pid_t;
    let (done, stop) = mpsc::channel::<()>();
    let watchdog = std::thread::spawn(move || {
        let expired = stop.recv_timeout(timeout) == Err(mpsc::RecvTimeoutError::Timeout);
        if expired {
            // SAFETY: the child is not reaped before this thread is joined, so `pid` is
            // still ours.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
        expired
    });

    // Wait for the exit without reaping, so the watchdog can never signal a reused pid.
    loop {
        // SAFETY: a zeroed siginfo_t is a valid out-parameter.
        let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
        // SAFETY: plain system call on our own child.
        let rc = unsafe {
            libc::waitid(
                libc::P_PID,
                pid as libc::id_t,
                &mut info,
                libc::WEXITED | libc::WNOWAIT,
            )
        };
        if rc == 0 {
            break;
        }
        let e = std::io::Error::last_os_error();
        if e.kind() != std::io::ErrorKind::Interrupted {
            return Err(format!("waiting for {}: {e}", show(cmd)));
        }
    }
    let secs = started.elapsed().as_secs_f64();
    drop(done);
    let timed_out = watchdog.join().unwrap_or(false);

    let mut status = 0;
    // SAFETY: a zeroed rusage is a valid out-parameter.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: reaps our own child, which has exited.
    let rc = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    if rc != pid {
        return Err(format!(
            "reaping {}: {}",
            show(cmd),
            std::io::Error::last_os_error()
        ));
    }
    drop(child);
    let output = fs::read(log)
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .map_err(|e| format!("cannot read {}: {e}", log.display()))?;
    Ok(Measured {
        secs,
        peak_rss_kb: usage.ru_maxrss,
        status: ExitStatus::from_raw(status),
        timed_out,
        output,
    })
}

/// The checks every timed run must pass before its figures count.
fn ensure_finished(m: &Measured, what: &str) -> Result<()> {
    if m.timed_out {
        Err(format!("{what} was killed after the time limit"))
    } else if !m.status.success() {
        Err(format!("{what} ended with {}", m.status))
    } else {
        Ok(())
    }
}

/// Reports a failed run with the end of its output, and gives the reason for the table.
fn failed(what: &str, reason: String, output: &str) -> Outcome {
    let lines: Vec<&str> = output.lines().collect();
    let tail = &lines[lines.len().saturating_sub(40)..];
    eprintln!("\nFAILED: {what}: {reason}");
    if !tail.is_empty() {
        eprintln!("--- its output (last {} lines) ---", tail.len());
        for line in tail {
            eprintln!("{line}");
        }
        eprintln!("---");
    }
    Outcome::Failed(format!("{what}: {reason}"))
}

// ---------------------------------------------------------------------------------------
// Scenarios

enum Outcome {
    Done { secs: f64, peak_rss_kb: i64 },
    Failed(String),
}

/// What a row is held to.
enum Goal {
    /// A raw load: the yardstick.
    Reference,
    /// Only the memory limit (the import that sets up the update scenario, the memory run).
    Memory,
    /// Finished within this many seconds (and the memory limit).
    Seconds(f64),
    /// Finished within this many seconds; the peak memory shown is a whole server's life,
    /// not an import's, so it is not held to the import's limit.
    SecondsOnly(f64),
    /// At least this many rows/s (and the memory limit).
    Rate(f64),
    /// At least `min_rate` rows/s, within `max_ratio` × the raw load (and the memory limit).
    Throughput {
        raw_secs: Option<f64>,
        min_rate: f64,
        max_ratio: f64,
    },
}

impl Goal {
    /// SPEC §9 for the large file into an empty database, whose figures differ per database.
    fn fresh_large(kind: Kind, raw_secs: Option<f64>) -> Goal {
        let (min_rate, max_ratio) = match kind {
            Kind::Sqlite => (100_000.0, 2.5),
            Kind::Postgres => (60_000.0, 3.0),
        };
        Goal::Throughput {
            raw_secs,
            min_rate,
            max_ratio,
        }
    }
}

const MAX_RSS_MB: f64 = 150.0;
/// SPEC §9 for the large file into a table that already holds as many clients.
const MIN_ONLINE_ROWS_PER_SEC: f64 = 40_000.0;
/// SPEC §9 for reverting the large import.
const MAX_REVERT_SECS: f64 = 15.0;

struct Row {
    scenario: String,
    kind: Kind,
    rows: u64,
    outcome: Outcome,
    goal: Goal,
}

impl Row {
    fn secs(&self) -> Option<f64> {
        match self.outcome {
            Outcome::Done { secs, .. } => Some(secs),
            Outcome::Failed(_) => None,
        }
    }
}

fn progress(text: &str) {
    print!("{text} … ");
    let _ = std::io::stdout().flush();
}

fn raw_load(ctx: &Ctx, kind: Kind, file: &Path, rows: u64) -> Row {
    let scenario = match kind {
        Kind::Sqlite => "raw load: sqlite3 .import",
        Kind::Postgres => "raw load: psql \\copy",
    };
    progress(&format!("{}: {scenario}, {rows} rows", kind.label()));
    let log = ctx.dir.join(format!("logs/raw-{}.log", tag(kind)));
    let outcome = (|| {
        let db = Db::create(ctx, kind, "raw")?;
        db.query(&format!(
            "CREATE TABLE client_raw ({RAW_COLUMNS}); \
             CREATE UNIQUE INDEX ux_client_raw_email ON client_raw (lower(email));"
        ))?;
        let path = file.display().to_string();
        if path.contains('\'') {
            return Err(format!("the path {path} must not contain a quote"));
        }
        let load = match kind {
            Kind::Sqlite => format!(".import --csv --skip 1 '{path}' client_raw"),
            Kind::Postgres => {
                format!("\\copy client_raw FROM '{path}' WITH (FORMAT csv, HEADER true)")
            }
        };
        let m = measure(&mut db.client_command(&load), &log, ctx.timeout)?;
        let checked = ensure_finished(&m, scenario).and_then(|()| {
            let loaded = db.count("client_raw")?;
            if loaded == rows {
                Ok(())
            } else {
                Err(format!("the table holds {loaded} rows, not {rows}"))
            }
        });
        Ok(match checked {
            Ok(()) => Outcome::Done {
                secs: m.secs,
                peak_rss_kb: m.peak_rss_kb,
            },
            Err(reason) => failed(scenario, reason, &m.output),
        })
    })()
    .unwrap_or_else(|reason| failed(scenario, reason, ""));
    finish_progress(&outcome);
    Row {
        scenario: scenario.into(),
        kind,
        rows,
        outcome,
        goal: Goal::Reference,
    }
}

fn finish_progress(outcome: &Outcome) {
    match outcome {
        Outcome::Done { secs, .. } => println!("{secs:.2} s"),
        Outcome::Failed(_) => println!("FAILED"),
    }
}

fn tag(kind: Kind) -> &'static str {
    match kind {
        Kind::Sqlite => "sqlite",
        Kind::Postgres => "postgres",
    }
}

/// A migrated database with the admin the imports run as.
fn engine_db(ctx: &Ctx, kind: Kind, name: &str) -> Result<Db> {
    let db = Db::create(ctx, kind, name)?;
    run_quiet(server(ctx, &db).arg("migrate"))?;
    let mut create = server(ctx, &db);
    create
        .args(["user", "create", "--email", BENCH_USER, "--role", "admin"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = create
        .spawn()
        .map_err(|e| format!("cannot run {}: {e}", show(&create)))?;
    if let Some(mut stdin) = child.stdin.take() {
        writeln!(stdin, "{BENCH_PASSWORD}").map_err(|e| format!("user create: {e}"))?;
    }
    let out = child
        .wait_with_output()
        .map_err(|e| format!("user create: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "{} failed: {}{}",
            show(&create),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(db)
}

fn server(ctx: &Ctx, db: &Db) -> Command {
    let mut cmd = Command::new(&ctx.server);
    // The benchmark's own folder: no `.env` of the checkout changes the settings.
    cmd.current_dir(&ctx.dir)
        .env("DATABASE_URL", db.url())
        .env("IMPORT_MAX_ROWS", ctx.max_rows.to_string())
        .env("IMPORT_MAX_BYTES", ctx.max_bytes.to_string())
        // The revert of the large import is timed until its answer: the request waits for it
        // (half this limit) instead of answering that it goes on.
        .env("REQUEST_TIMEOUT", "2h")
        // Plain HTTP on loopback: the session cookie is `crm_session`, not the `__Host-` one.
        .env("COOKIE_SECURE", "false")
        .env("NO_COLOR", "1")
        .env_remove("RUST_LOG");
    cmd
}

/// What an import must have done for its time to count.
struct Expect {
    created: u64,
    updated: u64,
    /// Clients in the table afterwards.
    clients: u64,
    /// (email, phone, city) some clients must have afterwards.
    spot_checks: Vec<(String, String, String)>,
    /// (query, the one value it must give) afterwards.
    values: Vec<(String, String)>,
}

/// The summary line of `server import`:
/// `Import #1: success — 5000 rows: 5000 created, 0 updated, 0 unchanged, 0 errors.`
struct Summary {
    status: String,
    counts: [u64; 5],
}

fn summary(output: &str) -> Option<Summary> {
    let line = output.lines().find(|l| l.starts_with("Import #"))?;
    let (head, counts) = line.split_once(" — ")?;
    let status = head.split_once(": ")?.1.trim().to_owned();
    let numbers: Vec<u64> = counts
        .split(|c: char| !c.is_ascii_digit())
        .filter(|s| !s.is_empty())
        .map(|s| s.parse().ok())
        .collect::<Option<_>>()?;
    Some(Summary {
        status,
        counts: numbers.try_into().ok()?,
    })
}

/// Runs `server import` on `file`, checks it did what `expect` says, and gives its figures.
fn engine_import(ctx: &Ctx, db: &Db, file: &Path, expect: &Expect, what: &str) -> Outcome {
    let name = file
        .file_stem()
        .map_or("import".into(), |s| s.to_string_lossy());
    let log = ctx.dir.join(format!(
        "logs/import-{}-{}-{name}.log",
        tag(db.kind),
        db.tag
    ));
    let mut cmd = server(ctx, db);
    cmd.args(["import", "--action", "import-users", "--as", BENCH_USER])
        .arg("--file")
        .arg(file);
    let m = match measure(&mut cmd, &log, ctx.timeout) {
        Ok(m) => m,
        Err(reason) => return failed(what, reason, ""),
    };
    match check_import(db, &m, expect) {
        Ok(()) => Outcome::Done {
            secs: m.secs,
            peak_rss_kb: m.peak_rss_kb,
        },
        Err(reason) => failed(what, reason, &m.output),
    }
}

fn check_import(db: &Db, m: &Measured, expect: &Expect) -> Result<()> {
    ensure_finished(m, "the import")?;
    let s = summary(&m.output).ok_or("no summary line `Import #…` in the output")?;
    let [_, created, updated, _, errors] = s.counts;
    if s.status != "success" || errors != 0 {
        // The first error the server logged or printed says more than the counts.
        let first_error = m
            .output
            .lines()
            .find_map(|l| match l.find("ERROR") {
                Some(at) => Some(&l[at..]),
                None => l.starts_with("  line ").then_some(l),
            })
            .map_or(String::new(), |l| format!("; {}", l.trim()));
        return Err(format!(
            "status {} with {errors} row errors{first_error}",
            s.status
        ));
    }
    if (created, updated) != (expect.created, expect.updated) {
        return Err(format!(
            "{created} created and {updated} updated, expected {} and {}",
            expect.created, expect.updated
        ));
    }
    let clients = db.count("client")?;
    if clients != expect.clients {
        return Err(format!(
            "the client table holds {clients} rows, expected {}",
            expect.clients
        ));
    }
    for (email, phone, city) in &expect.spot_checks {
        let found = db.query(&format!(
            "SELECT phone || '|' || city FROM client WHERE lower(email) = '{email}'"
        ))?;
        if found != format!("{phone}|{city}") {
            return Err(format!(
                "{email} has `{found}`, expected phone and city `{phone}|{city}`"
            ));
        }
    }
    for (sql, wanted) in &expect.values {
        let found = db.query(sql)?;
        if &found != wanted {
            return Err(format!("`{sql}` gives {found}, expected {wanted}"));
        }
    }
    Ok(())
}

fn fresh(rows: u64) -> Expect {
    Expect {
        created: rows,
        updated: 0,
        clients: rows,
        spot_checks: Vec::new(),
        values: Vec::new(),
    }
}

fn fresh_import(
    ctx: &Ctx,
    kind: Kind,
    scenario: &str,
    file: &Path,
    expect: Expect,
    goal: Goal,
) -> Row {
    fresh_import_keeping(ctx, kind, scenario, file, expect, goal).0
}

/// A fresh import of `file` (its database is named after it), and the database when the
/// import did what it should.
fn fresh_import_keeping(
    ctx: &Ctx,
    kind: Kind,
    scenario: &str,
    file: &Path,
    expect: Expect,
    goal: Goal,
) -> (Row, Option<Db>) {
    let rows = expect.created;
    progress(&format!("{}: {scenario}, {rows} rows", kind.label()));
    let what = format!("{} {scenario}, {} rows", kind.label(), thousands(rows));
    // A PostgreSQL database name takes no `-`.
    let tag = file
        .file_stem()
        .map_or("fresh".into(), |s| s.to_string_lossy().replace('-', "_"));
    let (outcome, db) = match engine_db(ctx, kind, &tag) {
        Ok(db) => {
            let outcome = engine_import(ctx, &db, file, &expect, &what);
            let keep = matches!(outcome, Outcome::Done { .. });
            (outcome, keep.then_some(db))
        }
        Err(reason) => (failed(&what, reason, ""), None),
    };
    finish_progress(&outcome);
    let row = Row {
        scenario: scenario.into(),
        kind,
        rows,
        outcome,
        goal,
    };
    (row, db)
}

/// The second large file into the table the large import filled (`db`, when it did):
/// `rows` new clients while every index already holds as many.
fn online_import(ctx: &Ctx, kind: Kind, db: Option<&Db>, file: &Path, rows: u64) -> Row {
    let scenario = format!("import-users, online (into {} clients)", thousands(rows));
    progress(&format!("{}: {scenario}, {rows} rows", kind.label()));
    let what = format!("{} {scenario}, {} rows", kind.label(), thousands(rows));
    let outcome = match db {
        Some(db) => {
            let expect = Expect {
                created: rows,
                updated: 0,
                clients: 2 * rows,
                spot_checks: Vec::new(),
                values: Vec::new(),
            };
            engine_import(ctx, db, file, &expect, &what)
        }
        None => Outcome::Failed(format!("{what}: not run, the large import failed")),
    };
    finish_progress(&outcome);
    Row {
        scenario,
        kind,
        rows,
        outcome,
        goal: Goal::Rate(MIN_ONLINE_ROWS_PER_SEC),
    }
}

/// Reverts the large import through `POST /api/v1/imports/{id}/revert` on a server
/// started for it alone, timed from sending the request until the import is reverted.
/// Afterwards only the online import's clients may be left (`online`: it succeeded).
fn revert_large(ctx: &Ctx, kind: Kind, db: Option<&Db>, rows: u64, online: bool) -> Row {
    let scenario = "revert of the large import".to_owned();
    progress(&format!("{}: {scenario}", kind.label()));
    let what = format!("{} {scenario}", kind.label());
    let outcome = match db {
        None => Outcome::Failed(format!("{what}: not run, the large import failed")),
        // Whatever a failed online import left is unknown, so nothing could be checked.
        Some(_) if !online => Outcome::Failed(format!("{what}: not run, the online import failed")),
        Some(db) => {
            let log = ctx
                .dir
                .join(format!("logs/revert-{}-{}.log", tag(kind), db.tag));
            match revert(ctx, db, &log, rows) {
                Ok(m) => Outcome::Done {
                    secs: m.secs,
                    peak_rss_kb: m.peak_rss_kb,
                },
                Err(reason) => {
                    let output = fs::read(&log)
                        .map(|b| String::from_utf8_lossy(&b).into_owned())
                        .unwrap_or_default();
                    failed(&what, reason, &output)
                }
            }
        }
    };
    finish_progress(&outcome);
    Row {
        scenario,
        kind,
        rows,
        outcome,
        goal: Goal::SecondsOnly(MAX_REVERT_SECS),
    }
}

/// What the revert took: its time, and the peak memory of the server that did it, over
/// that server's whole life (start, sign-in, revert).
struct Reverted {
    secs: f64,
    peak_rss_kb: i64,
}

/// Reverts the first import of `db` and checks that only the online import's
/// `online_rows` clients are left.
fn revert(ctx: &Ctx, db: &Db, log: &Path, online_rows: u64) -> Result<Reverted> {
    // The large import is the first job of its fresh database.
    let text = db.query("SELECT min(id) FROM import_job")?;
    let job: i64 = text
        .parse()
        .map_err(|_| format!("the first import's id is `{text}`, not a number"))?;
    let serving = http::Serving::start(ctx, db, log)?;
    let (addr, cookie) = (serving.addr, serving.cookie.as_str());
    let started = Instant::now();
    let path = format!("/api/v1/imports/{job}/revert");
    let (status, body) = http::exchange(addr, &http::post(addr, &path, cookie), ctx.timeout)?;
    if status == 202 {
        // Accepted for later: the revert is done when the job says so.
        let job_path = format!("/api/v1/imports/{job}");
        loop {
            let (status, body) = http::exchange(
                addr,
                &http::get(addr, &job_path, cookie),
                http::PAGE_TIMEOUT,
            )?;
            if status != 200 {
                return Err(format!("GET {job_path} answered {status}: {body}"));
            }
            if body.contains(r#""status":"reverted""#) {
                break;
            }
            if started.elapsed() > ctx.timeout {
                return Err(format!("not reverted after the time limit: {body}"));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    } else if !(200..300).contains(&status) {
        return Err(format!("POST {path} answered {status}: {body}"));
    }
    let secs = started.elapsed().as_secs_f64();
    let peak_rss_kb = serving.stop()?;
    let status = db.query(&format!("SELECT status FROM import_job WHERE id = {job}"))?;
    if status != "reverted" {
        return Err(format!("import #{job} is `{status}` after the revert"));
    }
    let clients = db.count("client")?;
    if clients != online_rows {
        return Err(format!(
            "the client table holds {clients} rows after the revert, expected the online import's {online_rows}"
        ));
    }
    // The count alone would not tell which clients stayed.
    for (number, wanted) in [(online_rows / 2, 0), (online_rows + online_rows / 2, 1)] {
        let email = Client::new(number).email();
        let found = db.count_where("client", &format!("lower(email) = '{email}'"))?;
        if found != wanted {
            return Err(format!(
                "{email} is there {found} times after the revert, expected {wanted}"
            ));
        }
    }
    Ok(Reverted { secs, peak_rss_kb })
}

/// A fresh import of the base file, then the partial-update file on top (timed on its own).
fn update_scenario(ctx: &Ctx, kind: Kind, files: &Files) -> Vec<Row> {
    let setup = "import-users, fresh (the update's table)".to_owned();
    let update = format!("import-users, update in {} clients", thousands(BASE_ROWS));
    let what = format!("{} {setup}", kind.label());
    progress(&format!("{}: {setup}, {BASE_ROWS} rows", kind.label()));
    let db = engine_db(ctx, kind, "update");
    let base = match &db {
        Ok(db) => engine_import(ctx, db, &files.base, &fresh(BASE_ROWS), &what),
        Err(reason) => failed(&what, reason.clone(), ""),
    };
    finish_progress(&base);
    let what = format!("{} {update}", kind.label());
    progress(&format!("{}: {update}, {UPDATE_ROWS} rows", kind.label()));
    let changed = match (&db, &base) {
        (Ok(db), Outcome::Done { .. }) => {
            let last = files.updated.len().saturating_sub(1);
            let expect = Expect {
                created: 0,
                updated: UPDATE_ROWS,
                clients: BASE_ROWS,
                spot_checks: [0, last / 2, last]
                    .iter()
                    .filter_map(|&i| files.updated.get(i).cloned())
                    .collect(),
                values: Vec::new(),
            };
            engine_import(ctx, db, &files.update, &expect, &what)
        }
        _ => Outcome::Failed(format!("{what}: not run, its table could not be set up")),
    };
    finish_progress(&changed);
    vec![
        Row {
            scenario: setup,
            kind,
            rows: BASE_ROWS,
            outcome: base,
            goal: Goal::Memory,
        },
        Row {
            scenario: update,
            kind,
            rows: UPDATE_ROWS,
            outcome: changed,
            // SPEC §9's figure differs per database.
            goal: Goal::Seconds(match kind {
                Kind::Sqlite => 0.25,
                Kind::Postgres => 0.35,
            }),
        },
    ]
}

// ---------------------------------------------------------------------------------------
// Report

fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn target(goal: &Goal) -> String {
    match goal {
        Goal::Reference => "reference".into(),
        Goal::Memory => format!("< {MAX_RSS_MB} MB"),
        Goal::Seconds(max) => format!("< {max} s, < {MAX_RSS_MB} MB"),
        Goal::SecondsOnly(max) => format!("< {max} s"),
        Goal::Rate(min) => format!("≥ {} rows/s, < {MAX_RSS_MB} MB", thousands(*min as u64)),
        Goal::Throughput {
            min_rate,
            max_ratio,
            ..
        } => format!(
            "≥ {} rows/s, ≤ {max_ratio}× raw, < {MAX_RSS_MB} MB",
            thousands(*min_rate as u64)
        ),
    }
}

/// The engine/raw ratio (for a throughput row), and whether the row met its target.
fn judge(row: &Row, secs: f64, rss_mb: f64) -> (Option<f64>, bool) {
    let memory_ok = rss_mb < MAX_RSS_MB;
    let rate = row.rows as f64 / secs;
    match row.goal {
        Goal::Reference => (None, true),
        Goal::Memory => (None, memory_ok),
        Goal::Seconds(max) => (None, secs < max && memory_ok),
        Goal::SecondsOnly(max) => (None, secs < max),
        Goal::Rate(min) => (None, rate >= min && memory_ok),
        Goal::Throughput {
            raw_secs,
            min_rate,
            max_ratio,
        } => {
            let ratio = raw_secs.map(|raw| secs / raw);
            let met = rate >= min_rate && ratio.is_some_and(|r| r <= max_ratio) && memory_ok;
            (ratio, met)
        }
    }
}

fn table(rows: &[Row]) -> String {
    let mut cells: Vec<[String; 9]> = vec![[
        "scenario".into(),
        "database".into(),
        "rows".into(),
        "seconds".into(),
        "rows/s".into(),
        "peak RSS MB".into(),
        "× raw".into(),
        "target".into(),
        "result".into(),
    ]];
    for row in rows {
        let figures = match row.outcome {
            Outcome::Done { secs, peak_rss_kb } => {
                let rss_mb = peak_rss_kb as f64 / 1024.0;
                let (ratio, met) = judge(row, secs, rss_mb);
                let result = match row.goal {
                    Goal::Reference => "",
                    _ if met => "met",
                    _ => "MISSED",
                };
                [
                    format!("{secs:.3}"),
                    thousands((row.rows as f64 / secs).round() as u64),
                    format!("{rss_mb:.1}"),
                    ratio.map_or(String::new(), |r| format!("{r:.1}×")),
                    result.into(),
                ]
            }
            Outcome::Failed(_) => ["—", "—", "—", "", "FAILED"].map(String::from),
        };
        let [secs, rate, rss, ratio, result] = figures;
        cells.push([
            row.scenario.clone(),
            row.kind.label().into(),
            thousands(row.rows),
            secs,
            rate,
            rss,
            ratio,
            target(&row.goal),
            result,
        ]);
    }
    let widths: Vec<usize> = (0..9)
        .map(|c| {
            cells
                .iter()
                .map(|r| r[c].chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let numeric = |c: usize| (2..=6).contains(&c);
    let mut out = String::new();
    for (i, line) in cells.iter().enumerate() {
        out.push('|');
        for (c, cell) in line.iter().enumerate() {
            let pad = " ".repeat(widths[c] - cell.chars().count());
            if numeric(c) && i > 0 {
                let _ = write!(out, " {pad}{cell} |");
            } else {
                let _ = write!(out, " {cell}{pad} |");
            }
        }
        out.push('\n');
        if i == 0 {
            out.push('|');
            for (c, w) in widths.iter().enumerate() {
                let dashes = "-".repeat(*w);
                if numeric(c) {
                    let _ = write!(out, "-{dashes}:|");
                } else {
                    let _ = write!(out, "-{dashes}-|");
                }
            }
            out.push('\n');
        }
    }
    out
}

fn failure_notes(rows: &[Row]) -> String {
    let reasons: Vec<&str> = rows
        .iter()
        .filter_map(|r| match &r.outcome {
            Outcome::Failed(reason) => Some(reason.lines().next().unwrap_or("")),
            Outcome::Done { .. } => None,
        })
        .collect();
    if reasons.is_empty() {
        return String::new();
    }
    let mut out = String::from("\nFailed:\n");
    for reason in reasons {
        let _ = writeln!(out, "- {reason}");
    }
    out
}

fn heading(large: u64, memory_rows: Option<u64>, args: &Args) -> String {
    let mut heading = heading_line(args, "");
    if large != 1_000_000 {
        let _ = write!(
            heading,
            "\n\nLarge import with {} rows instead of 1,000,000{}.",
            thousands(large),
            if args.quick { " (--quick)" } else { "" }
        );
    }
    match memory_rows {
        None => heading.push_str("\n\nNo memory run (--skip-memory-run)."),
        Some(rows) if large.checked_mul(MEMORY_FACTOR) != Some(rows) => {
            let _ = write!(
                heading,
                "\n\nMemory run with {} rows instead of {MEMORY_FACTOR} × the large import.",
                thousands(rows)
            );
        }
        Some(_) => {}
    }
    heading.push_str(only_one_database(args));
    heading
}

/// The note of a heading when only one database runs.
fn only_one_database(args: &Args) -> &'static str {
    match args.db {
        Only::Both => "",
        Only::Sqlite => "\n\nOnly SQLite.",
        Only::Postgres => "\n\nOnly PostgreSQL.",
    }
}

/// A run's heading line: when, which commit, which machine, and `--label` under it.
fn heading_line(args: &Args, kind: &str) -> String {
    let now = chrono::Utc::now().format("%Y-%m-%d %H:%M UTC");
    let commit = run_quiet(Command::new("git").args(["rev-parse", "--short", "HEAD"]))
        .map(|s| s.trim().to_owned())
        .unwrap_or_else(|_| "unknown".into());
    let dirty =
        run_quiet(Command::new("git").args(["status", "--porcelain", "--untracked-files=no"]))
            .map(|s| !s.trim().is_empty())
            .unwrap_or(false);
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let cpu = fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, name)| name.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let mut heading = format!(
        "## {kind}{now} · commit {commit}{} · {cores} cores ({cpu})",
        if dirty {
            " with uncommitted changes"
        } else {
            ""
        }
    );
    if let Some(label) = &args.label {
        let _ = write!(heading, "\n\n{label}");
    }
    heading
}

fn record(path: &Path, heading: &str, table: &str, notes: &str) -> Result<()> {
    let mut text = match fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::from(
            "# Import benchmark results\n\n\
             Appended by `bash scripts/bench.sh` (see bench/README.md); the newest run is last.\n",
        ),
        Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
    };
    if !text.ends_with('\n') {
        text.push('\n');
    }
    let _ = write!(text, "\n{heading}\n\n{table}{notes}");
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    fs::write(path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn the_online_files_emails_are_new_to_the_large_file() {
        let large = 20_000;
        let emails: HashSet<String> = (0..2 * large).map(|i| Client::new(i).email()).collect();
        assert_eq!(emails.len() as u64, 2 * large);
    }

    #[test]
    fn the_import_summary_is_read() {
        let s = summary(
            "x\nImport #1: success — 5000 rows: 5000 created, 0 updated, 0 unchanged, 0 errors.\n",
        );
        let s = s.expect("a summary");
        assert_eq!(s.status, "success");
        assert_eq!(s.counts, [5000, 5000, 0, 0, 0]);
    }
}
