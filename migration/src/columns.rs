//! Column and constraint shapes every migration uses.

use sea_orm_migration::{prelude::*, schema::timestamp_with_time_zone};

/// `TIMESTAMPTZ NOT NULL DEFAULT CURRENT_TIMESTAMP`.
pub fn timestamp_now<T: IntoIden>(col: T) -> ColumnDef {
    timestamp_with_time_zone(col)
        .default(Expr::current_timestamp())
        .take()
}

/// A named foreign key `from` → `to` with its ON DELETE action.
pub fn fk<T, C, R, K>(
    name: &str,
    from: (T, C),
    to: (R, K),
    on_delete: ForeignKeyAction,
) -> ForeignKeyCreateStatement
where
    T: IntoIden + 'static,
    C: IntoIden + 'static,
    R: IntoIden + 'static,
    K: IntoIden + 'static,
{
    ForeignKey::create()
        .name(name)
        .from(from.0, from.1)
        .to(to.0, to.1)
        .on_delete(on_delete)
        .take()
}
