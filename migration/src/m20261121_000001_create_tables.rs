//! The whole data model of the back office (SPEC §2).
//!
//! Written with the portable schema builder so the same migration runs on SQLite and
//! PostgreSQL; the only raw SQL is the expression indexes on `lower(email)`, which both
//! databases understand verbatim.

use sea_orm_migration::prelude::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261121_000001_create_tables"
    }
}

/// A 64-bit auto-increment primary key (`bigserial` / SQLite `integer primary key`).
fn id<T: IntoIden>(name: T) -> ColumnDef {
    ColumnDef::new(name)
        .big_integer()
        .not_null()
        .auto_increment()
        .primary_key()
        .to_owned()
}

fn timestamp<T: IntoIden>(name: T) -> ColumnDef {
    ColumnDef::new(name)
        .timestamp_with_time_zone()
        .not_null()
        .to_owned()
}

fn timestamp_null<T: IntoIden>(name: T) -> ColumnDef {
    ColumnDef::new(name)
        .timestamp_with_time_zone()
        .null()
        .to_owned()
}

fn text<T: IntoIden>(name: T) -> ColumnDef {
    ColumnDef::new(name).string().not_null().to_owned()
}

fn text_null<T: IntoIden>(name: T) -> ColumnDef {
    ColumnDef::new(name).string().null().to_owned()
}

fn counter<T: IntoIden>(name: T) -> ColumnDef {
    ColumnDef::new(name)
        .big_integer()
        .not_null()
        .default(0)
        .to_owned()
}

fn fk(
    from: (impl IntoIden, impl IntoIden),
    to: (impl IntoIden, impl IntoIden),
    on_delete: ForeignKeyAction,
) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .from(from.0, from.1)
        .to(to.0, to.1)
        .on_delete(on_delete)
        .to_owned()
}

fn index(name: &str, table: impl IntoIden, cols: Vec<DynIden>) -> IndexCreateStatement {
    let mut stmt = Index::create();
    stmt.name(name).table(table);
    for col in cols {
        stmt.col(col);
    }
    stmt.to_owned()
}

macro_rules! cols {
    ($($c:expr),+ $(,)?) => { vec![$($c.into_iden()),+] };
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        use ForeignKeyAction::{Cascade, Restrict, SetNull};

        manager
            .create_table(
                Table::create()
                    .table(BackOfficeUser::Table)
                    .col(id(BackOfficeUser::Id))
                    .col(text(BackOfficeUser::Email))
                    .col(text(BackOfficeUser::PasswordHash))
                    .col(text(BackOfficeUser::Role))
                    .col(
                        ColumnDef::new(BackOfficeUser::Active)
                            .boolean()
                            .not_null()
                            .default(true),
                    )
                    .col(timestamp(BackOfficeUser::CreatedAt))
                    .col(timestamp_null(BackOfficeUser::LastLoginAt))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(ApiToken::Table)
                    .col(id(ApiToken::Id))
                    .col(ColumnDef::new(ApiToken::UserId).big_integer().not_null())
                    .col(text(ApiToken::Name))
                    .col(
                        ColumnDef::new(ApiToken::TokenHash)
                            .string()
                            .not_null()
                            .unique_key(),
                    )
                    .col(timestamp(ApiToken::CreatedAt))
                    .col(timestamp_null(ApiToken::LastUsedAt))
                    .col(timestamp_null(ApiToken::RevokedAt))
                    .foreign_key(&mut fk(
                        (ApiToken::Table, ApiToken::UserId),
                        (BackOfficeUser::Table, BackOfficeUser::Id),
                        Cascade,
                    ))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Session::Table)
                    .col(
                        ColumnDef::new(Session::Id)
                            .string()
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(Session::UserId).big_integer().null())
                    .col(ColumnDef::new(Session::Data).text().not_null())
                    .col(timestamp(Session::ExpiryDate))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Project::Table)
                    .col(id(Project::Id))
                    .col(
                        ColumnDef::new(Project::Name)
                            .string()
                            .not_null()
                            .unique_key(),
                    )
                    .col(timestamp(Project::CreatedAt))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Desk::Table)
                    .col(id(Desk::Id))
                    .col(ColumnDef::new(Desk::ProjectId).big_integer().not_null())
                    .col(text(Desk::Name))
                    .col(timestamp(Desk::CreatedAt))
                    .foreign_key(&mut fk(
                        (Desk::Table, Desk::ProjectId),
                        (Project::Table, Project::Id),
                        Restrict,
                    ))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Client::Table)
                    .col(id(Client::Id))
                    .col(text(Client::Email))
                    .col(
                        ColumnDef::new(Client::Username)
                            .string()
                            .not_null()
                            .unique_key(),
                    )
                    .col(text(Client::FirstName))
                    .col(text_null(Client::MiddleName))
                    .col(text_null(Client::LastName))
                    .col(ColumnDef::new(Client::DateOfBirth).date().null())
                    .col(text_null(Client::Country))
                    .col(text_null(Client::Phone))
                    .col(text_null(Client::Address))
                    .col(text_null(Client::City))
                    .col(text_null(Client::PostalCode))
                    .col(
                        ColumnDef::new(Client::VerificationLevel)
                            .integer()
                            .not_null()
                            .default(0),
                    )
                    .col(ColumnDef::new(Client::ProjectId).big_integer().not_null())
                    .col(ColumnDef::new(Client::DeskId).big_integer().not_null())
                    .col(
                        ColumnDef::new(Client::Active)
                            .boolean()
                            .not_null()
                            .default(true),
                    )
                    .col(
                        ColumnDef::new(Client::Type)
                            .string()
                            .not_null()
                            .default("personal"),
                    )
                    .col(timestamp(Client::CreatedAt))
                    .col(timestamp(Client::UpdatedAt))
                    .foreign_key(&mut fk(
                        (Client::Table, Client::ProjectId),
                        (Project::Table, Project::Id),
                        Restrict,
                    ))
                    .foreign_key(&mut fk(
                        (Client::Table, Client::DeskId),
                        (Desk::Table, Desk::Id),
                        Restrict,
                    ))
                    .check(Expr::col(Client::VerificationLevel).gte(0))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Account::Table)
                    .col(id(Account::Id))
                    .col(
                        ColumnDef::new(Account::AccountNumber)
                            .string()
                            .not_null()
                            .unique_key(),
                    )
                    .col(ColumnDef::new(Account::ClientId).big_integer().not_null())
                    .col(ColumnDef::new(Account::ProductId).big_integer().not_null())
                    .col(text(Account::Currency))
                    .col(timestamp(Account::CreatedAt))
                    .foreign_key(&mut fk(
                        (Account::Table, Account::ClientId),
                        (Client::Table, Client::Id),
                        Cascade,
                    ))
                    .check(Expr::col(Account::ProductId).gt(0))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(IbProgram::Table)
                    .col(id(IbProgram::Id))
                    .col(
                        ColumnDef::new(IbProgram::Name)
                            .string()
                            .not_null()
                            .unique_key(),
                    )
                    .col(timestamp(IbProgram::CreatedAt))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(IntroducingBroker::Table)
                    .col(id(IntroducingBroker::Id))
                    .col(
                        ColumnDef::new(IntroducingBroker::ClientId)
                            .big_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(IntroducingBroker::ProgramId)
                            .big_integer()
                            .not_null(),
                    )
                    .col(timestamp(IntroducingBroker::CreatedAt))
                    .foreign_key(&mut fk(
                        (IntroducingBroker::Table, IntroducingBroker::ClientId),
                        (Client::Table, Client::Id),
                        Cascade,
                    ))
                    .foreign_key(&mut fk(
                        (IntroducingBroker::Table, IntroducingBroker::ProgramId),
                        (IbProgram::Table, IbProgram::Id),
                        Cascade,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                index(
                    "ux_introducing_broker_client_program",
                    IntroducingBroker::Table,
                    cols![IntroducingBroker::ClientId, IntroducingBroker::ProgramId],
                )
                .unique()
                .to_owned(),
            )
            .await?;

        // A referral points at the partner's membership of the same program (composite key),
        // so a client can only be referred by someone who really is a partner in that program.
        manager
            .create_table(
                Table::create()
                    .table(Referral::Table)
                    .col(id(Referral::Id))
                    .col(ColumnDef::new(Referral::ProgramId).big_integer().not_null())
                    .col(ColumnDef::new(Referral::ClientId).big_integer().not_null())
                    .col(
                        ColumnDef::new(Referral::IbClientId)
                            .big_integer()
                            .not_null(),
                    )
                    .col(timestamp(Referral::CreatedAt))
                    .foreign_key(&mut fk(
                        (Referral::Table, Referral::ClientId),
                        (Client::Table, Client::Id),
                        Cascade,
                    ))
                    .foreign_key(
                        &mut ForeignKey::create()
                            .from_tbl(Referral::Table)
                            .from_col(Referral::IbClientId)
                            .from_col(Referral::ProgramId)
                            .to_tbl(IntroducingBroker::Table)
                            .to_col(IntroducingBroker::ClientId)
                            .to_col(IntroducingBroker::ProgramId)
                            .on_delete(Cascade)
                            .to_owned(),
                    )
                    .check(Expr::col(Referral::ClientId).ne(Expr::col(Referral::IbClientId)))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                index(
                    "ux_referral_program_client",
                    Referral::Table,
                    cols![Referral::ProgramId, Referral::ClientId],
                )
                .unique()
                .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(ImportJob::Table)
                    .col(id(ImportJob::Id))
                    .col(text(ImportJob::Title))
                    .col(ColumnDef::new(ImportJob::Description).text().null())
                    .col(text(ImportJob::Action))
                    .col(text(ImportJob::Delimiter))
                    .col(text_null(ImportJob::Encoding))
                    .col(text(ImportJob::FileName))
                    .col(ColumnDef::new(ImportJob::FileSize).big_integer().not_null())
                    .col(text(ImportJob::FileSha256))
                    .col(ColumnDef::new(ImportJob::FileData).blob().not_null())
                    .col(text(ImportJob::Status))
                    .col(
                        ColumnDef::new(ImportJob::ValidateOnly)
                            .boolean()
                            .not_null()
                            .default(false),
                    )
                    .col(
                        ColumnDef::new(ImportJob::InitiatedBy)
                            .big_integer()
                            .not_null(),
                    )
                    .col(timestamp(ImportJob::CreatedAt))
                    .col(timestamp_null(ImportJob::StartedAt))
                    .col(timestamp_null(ImportJob::FinishedAt))
                    .col(counter(ImportJob::TotalRows))
                    .col(counter(ImportJob::ProcessedRows))
                    .col(counter(ImportJob::CreatedRows))
                    .col(counter(ImportJob::UpdatedRows))
                    .col(counter(ImportJob::UnchangedRows))
                    .col(counter(ImportJob::ErrorRows))
                    .col(
                        ColumnDef::new(ImportJob::Attempts)
                            .integer()
                            .not_null()
                            .default(0),
                    )
                    .col(text_null(ImportJob::WorkerId))
                    .col(timestamp_null(ImportJob::HeartbeatAt))
                    .col(timestamp_null(ImportJob::RevertedAt))
                    .col(ColumnDef::new(ImportJob::RevertedBy).big_integer().null())
                    .foreign_key(&mut fk(
                        (ImportJob::Table, ImportJob::InitiatedBy),
                        (BackOfficeUser::Table, BackOfficeUser::Id),
                        Restrict,
                    ))
                    .foreign_key(&mut fk(
                        (ImportJob::Table, ImportJob::RevertedBy),
                        (BackOfficeUser::Table, BackOfficeUser::Id),
                        SetNull,
                    ))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(ImportMessage::Table)
                    .col(id(ImportMessage::Id))
                    .col(
                        ColumnDef::new(ImportMessage::JobId)
                            .big_integer()
                            .not_null(),
                    )
                    .col(text(ImportMessage::Level))
                    .col(ColumnDef::new(ImportMessage::Line).big_integer().null())
                    .col(text_null(ImportMessage::Column))
                    .col(ColumnDef::new(ImportMessage::Value).text().null())
                    .col(ColumnDef::new(ImportMessage::Message).text().not_null())
                    .col(timestamp(ImportMessage::CreatedAt))
                    .foreign_key(&mut fk(
                        (ImportMessage::Table, ImportMessage::JobId),
                        (ImportJob::Table, ImportJob::Id),
                        Cascade,
                    ))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(ImportChange::Table)
                    .col(id(ImportChange::Id))
                    .col(ColumnDef::new(ImportChange::JobId).big_integer().not_null())
                    .col(text(ImportChange::Entity))
                    .col(
                        ColumnDef::new(ImportChange::EntityId)
                            .big_integer()
                            .not_null(),
                    )
                    .col(text(ImportChange::Operation))
                    .col(ColumnDef::new(ImportChange::PreviousValues).text().null())
                    .col(ColumnDef::new(ImportChange::NewValues).text().null())
                    .foreign_key(&mut fk(
                        (ImportChange::Table, ImportChange::JobId),
                        (ImportJob::Table, ImportJob::Id),
                        Cascade,
                    ))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Notification::Table)
                    .col(id(Notification::Id))
                    .col(
                        ColumnDef::new(Notification::UserId)
                            .big_integer()
                            .not_null(),
                    )
                    .col(ColumnDef::new(Notification::JobId).big_integer().null())
                    .col(ColumnDef::new(Notification::Text).text().not_null())
                    .col(timestamp(Notification::CreatedAt))
                    .col(timestamp_null(Notification::ReadAt))
                    .foreign_key(&mut fk(
                        (Notification::Table, Notification::UserId),
                        (BackOfficeUser::Table, BackOfficeUser::Id),
                        Cascade,
                    ))
                    .foreign_key(&mut fk(
                        (Notification::Table, Notification::JobId),
                        (ImportJob::Table, ImportJob::Id),
                        SetNull,
                    ))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(AuditEvent::Table)
                    .col(id(AuditEvent::Id))
                    .col(timestamp(AuditEvent::At))
                    .col(ColumnDef::new(AuditEvent::ActorId).big_integer().null())
                    .col(text_null(AuditEvent::ActorEmail))
                    .col(text(AuditEvent::Action))
                    .col(text_null(AuditEvent::Subject))
                    .col(ColumnDef::new(AuditEvent::Details).text().null())
                    .col(text_null(AuditEvent::RemoteAddr))
                    .foreign_key(&mut fk(
                        (AuditEvent::Table, AuditEvent::ActorId),
                        (BackOfficeUser::Table, BackOfficeUser::Id),
                        SetNull,
                    ))
                    .to_owned(),
            )
            .await?;

        for stmt in [
            index(
                "ix_api_token_user",
                ApiToken::Table,
                cols![ApiToken::UserId],
            ),
            index("ix_session_user", Session::Table, cols![Session::UserId]),
            index(
                "ix_session_expiry",
                Session::Table,
                cols![Session::ExpiryDate],
            ),
            index(
                "ux_desk_project_name",
                Desk::Table,
                cols![Desk::ProjectId, Desk::Name],
            )
            .unique()
            .to_owned(),
            index("ix_client_project", Client::Table, cols![Client::ProjectId]),
            index("ix_client_desk", Client::Table, cols![Client::DeskId]),
            index("ix_client_created", Client::Table, cols![Client::CreatedAt]),
            index(
                "ix_account_client",
                Account::Table,
                cols![Account::ClientId],
            ),
            index(
                "ix_introducing_broker_program",
                IntroducingBroker::Table,
                cols![IntroducingBroker::ProgramId],
            ),
            index(
                "ix_referral_partner",
                Referral::Table,
                cols![Referral::IbClientId, Referral::ProgramId],
            ),
            index(
                "ix_referral_client",
                Referral::Table,
                cols![Referral::ClientId],
            ),
            index(
                "ix_import_job_status",
                ImportJob::Table,
                cols![ImportJob::Status],
            ),
            index(
                "ix_import_job_initiator",
                ImportJob::Table,
                cols![ImportJob::InitiatedBy],
            ),
            index(
                "ix_import_job_sha256",
                ImportJob::Table,
                cols![ImportJob::FileSha256],
            ),
            index(
                "ix_import_message_job",
                ImportMessage::Table,
                cols![
                    ImportMessage::JobId,
                    ImportMessage::Level,
                    ImportMessage::Id
                ],
            ),
            index(
                "ix_import_change_job",
                ImportChange::Table,
                cols![ImportChange::JobId],
            ),
            index(
                "ix_import_change_entity",
                ImportChange::Table,
                cols![ImportChange::Entity, ImportChange::EntityId],
            ),
            index(
                "ix_notification_user",
                Notification::Table,
                cols![Notification::UserId, Notification::ReadAt],
            ),
            index(
                "ix_audit_event_at",
                AuditEvent::Table,
                cols![AuditEvent::At],
            ),
            index(
                "ix_audit_event_actor",
                AuditEvent::Table,
                cols![AuditEvent::ActorId],
            ),
            index(
                "ix_audit_event_action",
                AuditEvent::Table,
                cols![AuditEvent::Action],
            ),
        ] {
            manager.create_index(stmt).await?;
        }

        // Emails are unique regardless of case. Both databases accept an index on an
        // expression; lookups use the same `lower(email)` expression so they hit it.
        let db = manager.get_connection();
        db.execute_unprepared(
            "CREATE UNIQUE INDEX ux_back_office_user_email ON back_office_user (lower(email))",
        )
        .await?;
        db.execute_unprepared("CREATE UNIQUE INDEX ux_client_email ON client (lower(email))")
            .await?;

        // The `Default` project and desk always exist: rows without a project or desk land there.
        let now = Expr::current_timestamp();
        manager
            .exec_stmt(
                Query::insert()
                    .into_table(Project::Table)
                    .columns([Project::Name, Project::CreatedAt])
                    .values_panic([Expr::val("Default"), now.clone()])
                    .to_owned(),
            )
            .await?;
        manager
            .exec_stmt(
                Query::insert()
                    .into_table(Desk::Table)
                    .columns([Desk::ProjectId, Desk::Name, Desk::CreatedAt])
                    .select_from(
                        Query::select()
                            .column(Project::Id)
                            .expr(Expr::val("Default"))
                            .expr(now)
                            .from(Project::Table)
                            .and_where(Expr::col(Project::Name).eq("Default"))
                            .to_owned(),
                    )
                    .map_err(|e| DbErr::Migration(e.to_string()))?
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            AuditEvent::Table.into_iden(),
            Notification::Table.into_iden(),
            ImportChange::Table.into_iden(),
            ImportMessage::Table.into_iden(),
            ImportJob::Table.into_iden(),
            Referral::Table.into_iden(),
            IntroducingBroker::Table.into_iden(),
            IbProgram::Table.into_iden(),
            Account::Table.into_iden(),
            Client::Table.into_iden(),
            Desk::Table.into_iden(),
            Project::Table.into_iden(),
            Session::Table.into_iden(),
            ApiToken::Table.into_iden(),
            BackOfficeUser::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum BackOfficeUser {
    Table,
    Id,
    Email,
    PasswordHash,
    Role,
    Active,
    CreatedAt,
    LastLoginAt,
}

#[derive(DeriveIden)]
enum ApiToken {
    Table,
    Id,
    UserId,
    Name,
    TokenHash,
    CreatedAt,
    LastUsedAt,
    RevokedAt,
}

#[derive(DeriveIden)]
enum Session {
    Table,
    Id,
    UserId,
    Data,
    ExpiryDate,
}

#[derive(DeriveIden)]
enum Project {
    Table,
    Id,
    Name,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Desk {
    Table,
    Id,
    ProjectId,
    Name,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Client {
    Table,
    Id,
    Email,
    Username,
    FirstName,
    MiddleName,
    LastName,
    DateOfBirth,
    Country,
    Phone,
    Address,
    City,
    PostalCode,
    VerificationLevel,
    ProjectId,
    DeskId,
    Active,
    Type,
    CreatedAt,
    UpdatedAt,
}

// Column names follow the schema (`account.account_number`).
#[allow(clippy::enum_variant_names)]
#[derive(DeriveIden)]
enum Account {
    Table,
    Id,
    AccountNumber,
    ClientId,
    ProductId,
    Currency,
    CreatedAt,
}

#[derive(DeriveIden)]
enum IbProgram {
    Table,
    Id,
    Name,
    CreatedAt,
}

#[derive(DeriveIden)]
enum IntroducingBroker {
    Table,
    Id,
    ClientId,
    ProgramId,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Referral {
    Table,
    Id,
    ProgramId,
    ClientId,
    IbClientId,
    CreatedAt,
}

#[derive(DeriveIden)]
enum ImportJob {
    Table,
    Id,
    Title,
    Description,
    Action,
    Delimiter,
    Encoding,
    FileName,
    FileSize,
    FileSha256,
    FileData,
    Status,
    ValidateOnly,
    InitiatedBy,
    CreatedAt,
    StartedAt,
    FinishedAt,
    TotalRows,
    ProcessedRows,
    CreatedRows,
    UpdatedRows,
    UnchangedRows,
    ErrorRows,
    Attempts,
    WorkerId,
    HeartbeatAt,
    RevertedAt,
    RevertedBy,
}

#[derive(DeriveIden)]
enum ImportMessage {
    Table,
    Id,
    JobId,
    Level,
    Line,
    Column,
    Value,
    Message,
    CreatedAt,
}

#[derive(DeriveIden)]
enum ImportChange {
    Table,
    Id,
    JobId,
    Entity,
    EntityId,
    Operation,
    PreviousValues,
    NewValues,
}

#[derive(DeriveIden)]
enum Notification {
    Table,
    Id,
    UserId,
    JobId,
    Text,
    CreatedAt,
    ReadAt,
}

#[derive(DeriveIden)]
enum AuditEvent {
    Table,
    Id,
    At,
    ActorId,
    ActorEmail,
    Action,
    Subject,
    Details,
    RemoteAddr,
}
