//! Admin → API tokens.

use crate::model::{AppError, IssuedTokenView, TokenView};
use leptos::prelude::*;

#[server(endpoint = "admin/tokens")]
pub async fn list_tokens() -> Result<Vec<TokenView>, AppError> {
    super::respond(async move {
        let auth = super::authorize(&[crate::model::Role::Admin]).await?;
        crate::services::tokens::list(&auth.ctx.db).await
    })
    .await
}

/// Issues a token acting as the user `owner_email`, valid for `days` days (until revoked
/// when empty); its secret is returned only here.
#[server(endpoint = "admin/tokens/create")]
pub async fn create_token(
    owner_email: String,
    name: String,
    days: Option<String>,
) -> Result<IssuedTokenView, AppError> {
    super::respond(async move {
        let auth = super::authorize(&[crate::model::Role::Admin]).await?;
        let days = match days.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(d) => Some(
                d.parse::<u32>()
                    .map_err(|_| AppError::Invalid(format!("`{d}` is not a number of days.")))?,
            ),
        };
        let issued =
            crate::services::tokens::create(&auth.ctx.db, &auth.caller, &owner_email, &name, days)
                .await?;
        Ok(IssuedTokenView {
            id: issued.token.id,
            name: issued.token.name,
            owner_email: owner_email.trim().to_owned(),
            secret: issued.secret,
        })
    })
    .await
}

#[server(endpoint = "admin/tokens/revoke")]
pub async fn revoke_token(id: i64) -> Result<(), AppError> {
    super::respond(async move {
        let auth = super::authorize(&[crate::model::Role::Admin]).await?;
        crate::services::tokens::revoke(&auth.ctx.db, &auth.caller, id).await
    })
    .await
}
