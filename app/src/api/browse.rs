//! The browsing pages (SPEC §4): clients, accounts and IB programs. Everyone signed in
//! may browse; only admins change programs.

use crate::model::{
    AccountFilter, AccountRecord, AppError, ClientDetails, ClientFilter, ClientList, Page,
    ProgramDetails, ProgramRecord,
};
use leptos::prelude::*;

/// Rows per page of the browsing lists.
pub const PER_PAGE: u64 = 50;

#[server(endpoint = "clients/list")]
pub async fn list_clients(filter: ClientFilter, page: Option<u64>) -> Result<ClientList, AppError> {
    use crate::model::Role;
    use crate::services::browse::{self, ListQuery};
    super::respond(async move {
        let auth = super::authorize(&Role::ALL).await?;
        let q = ListQuery::new(None, page, Some(PER_PAGE));
        browse::client_list(&auth.ctx.db, &q, &filter, &auth.user.desks).await
    })
    .await
}

#[server(endpoint = "clients/show")]
pub async fn show_client(id: i64) -> Result<ClientDetails, AppError> {
    use crate::model::Role;
    super::respond(async move {
        let auth = super::authorize(&Role::ALL).await?;
        crate::services::browse::client_details(&auth.ctx.db, &auth.user, id).await
    })
    .await
}

#[server(endpoint = "accounts/list")]
pub async fn list_accounts(
    filter: AccountFilter,
    page: Option<u64>,
) -> Result<Page<AccountRecord>, AppError> {
    use crate::model::Role;
    use crate::services::browse::{self, ListQuery};
    super::respond(async move {
        let auth = super::authorize(&Role::ALL).await?;
        let q = ListQuery::new(None, page, Some(PER_PAGE));
        browse::accounts(&auth.ctx.db, &q, &filter, &auth.user.desks).await
    })
    .await
}

/// Every program with its partner and referral counts, and whether the viewer may
/// create and rename programs.
#[server(endpoint = "ib-programs/list")]
pub async fn list_programs() -> Result<(Vec<ProgramRecord>, bool), AppError> {
    use crate::model::Role;
    super::respond(async move {
        let auth = super::authorize(&Role::ALL).await?;
        let programs = crate::services::browse::programs(&auth.ctx.db, &auth.user.desks).await?;
        Ok((programs, auth.user.role == Role::Admin))
    })
    .await
}

/// A program with a page of its partners, or of its referred clients.
#[server(endpoint = "ib-programs/show")]
pub async fn show_program(
    id: i64,
    clients: bool,
    page: Option<u64>,
) -> Result<ProgramDetails, AppError> {
    use crate::model::Role;
    use crate::services::browse::{self, ListQuery};
    super::respond(async move {
        let auth = super::authorize(&Role::ALL).await?;
        let q = ListQuery::new(None, page, Some(PER_PAGE));
        browse::program_details(&auth.ctx.db, &auth.user.desks, id, clients, &q).await
    })
    .await
}

/// Creates a program (admins); `id` is the "IB Type ID" files use, numbered when empty.
#[server(endpoint = "ib-programs/create")]
pub async fn create_program(id: Option<String>, name: String) -> Result<ProgramRecord, AppError> {
    use crate::model::Role;
    super::respond(async move {
        let auth = super::authorize(&[Role::Admin]).await?;
        let id = match id.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
            None => None,
            Some(text) => Some(text.parse::<i64>().map_err(|_| {
                AppError::Invalid(format!("The program id is a whole number, not `{text}`."))
            })?),
        };
        crate::services::browse::create_program(&auth.ctx.db, &auth.caller, id, &name).await
    })
    .await
}

/// Renames a program (admins).
#[server(endpoint = "ib-programs/rename")]
pub async fn rename_program(id: i64, name: String) -> Result<(), AppError> {
    use crate::model::Role;
    super::respond(async move {
        let auth = super::authorize(&[Role::Admin]).await?;
        crate::services::browse::rename_program(&auth.ctx.db, &auth.caller, id, &name).await
    })
    .await
}
