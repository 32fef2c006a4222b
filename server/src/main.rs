//! `server [serve]`, `server migrate`, `server user create --email E --role R` (SPEC §6).

use app::model::Role;
use clap::{Parser, Subcommand};
use server::config::Config;
use server::{Application, StartupError, open_database};
use std::io::{IsTerminal, Read};
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "server",
    about = "Broker back office: web server and administration"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the web server (the default).
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Manage back-office users.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Manage API tokens.
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
}

#[derive(Subcommand)]
enum TokenCommand {
    /// Issue a token that acts as the user (with the user's role). It is printed once.
    Create {
        /// The email of the user the token acts as.
        #[arg(long)]
        user: String,
        /// What the token is for, e.g. "nightly CRM sync".
        #[arg(long)]
        name: String,
    },
}

#[derive(Subcommand)]
enum UserCommand {
    /// Create a user. The password is read from standard input when it is piped in;
    /// otherwise one is generated and printed once.
    Create {
        #[arg(long)]
        email: String,
        #[arg(long, value_parser = parse_role)]
        role: Role,
    },
}

fn parse_role(s: &str) -> Result<Role, String> {
    s.parse()
}

fn password_from_stdin() -> std::io::Result<Option<String>> {
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        return Ok(None);
    }
    let mut text = String::new();
    stdin.lock().read_to_string(&mut text)?;
    let line = text
        .lines()
        .next()
        .unwrap_or("")
        .trim_end_matches('\r')
        .to_owned();
    Ok((!line.is_empty()).then_some(line))
}

async fn run(cli: Cli) -> Result<(), StartupError> {
    let config = Config::from_env()?;
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => {
            let app = Application::build(config).await?;
            let addr = app.local_addr();
            tracing::info!("listening on http://{addr}");
            println!("Back office listening on http://{addr}");
            app.run()
                .await
                .map_err(|source| StartupError::Listen { addr, source })?;
        }
        Command::Migrate => {
            open_database(&config).await?;
            println!("Database is up to date.");
        }
        Command::User {
            command: UserCommand::Create { email, role },
        } => {
            let db = open_database(&config).await?;
            let password = password_from_stdin().map_err(|e| {
                StartupError::App(app::model::AppError::Invalid(format!(
                    "cannot read the password from standard input: {e}"
                )))
            })?;
            let system = app::auth::Caller::default();
            let (user, generated) =
                app::services::users::create(&db, &system, &email, role, password).await?;
            println!(
                "Created {} user {} (id {}).",
                user.role, user.email, user.id
            );
            if let Some(generated) = generated {
                println!("Password (shown only once): {}", generated.password);
            }
        }
        Command::Token {
            command: TokenCommand::Create { user, name },
        } => {
            let db = open_database(&config).await?;
            let system = app::auth::Caller::default();
            let issued = app::services::tokens::create(&db, &system, &user, &name).await?;
            println!(
                "Created API token {} (`{}`) for {}.",
                issued.token.id, issued.token.name, user
            );
            println!("Token (shown only once): {}", issued.secret);
        }
    }
    Ok(())
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,sqlx=warn,sea_orm=warn,sea_orm_migration=warn".into()),
        )
        .init();
    match run(Cli::parse()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
