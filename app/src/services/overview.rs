use crate::entities::{account, client, ib_program, import_job};
use crate::model::{AppError, CurrentUser, SectionCounts};
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, PaginatorTrait, QueryFilter};

/// Record counts per section. Operators count only their own imports (SPEC §1).
pub async fn counts(
    db: &DatabaseConnection,
    user: &CurrentUser,
) -> Result<SectionCounts, AppError> {
    let mut imports = import_job::Entity::find();
    if let Some(own) = crate::model::policy::only_jobs_of(user) {
        imports = imports.filter(import_job::Column::InitiatedBy.eq(own));
    }
    Ok(SectionCounts {
        client_count: client::Entity::find().count(db).await?,
        account_count: account::Entity::find().count(db).await?,
        program_count: ib_program::Entity::find().count(db).await?,
        import_count: imports.count(db).await?,
    })
}
