use crate::entities::{account, client, ib_program, import_job};
use crate::model::{AppError, CurrentUser, SectionCounts};
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, PaginatorTrait, QueryFilter};

/// Record counts per section: of the clients on the user's desks, and only their own
/// imports for an operator or a user limited to some desks (SPEC §1, §2).
pub async fn counts(
    db: &DatabaseConnection,
    user: &CurrentUser,
) -> Result<SectionCounts, AppError> {
    let mut imports = import_job::Entity::find();
    if let Some(own) = crate::model::policy::only_jobs_of(user) {
        imports = imports.filter(import_job::Column::InitiatedBy.eq(own));
    }
    use super::scope::{of_clients_within, on_desks};
    Ok(SectionCounts {
        client_count: client::Entity::find()
            .filter(on_desks(&user.desks))
            .count(db)
            .await?,
        account_count: account::Entity::find()
            .filter(of_clients_within(account::Column::ClientId, &user.desks))
            .count(db)
            .await?,
        program_count: ib_program::Entity::find().count(db).await?,
        import_count: imports.count(db).await?,
    })
}
