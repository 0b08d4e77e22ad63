//! One connection of either backend behind one small API, so that each query is written
//! once where SQLite and PostgreSQL agree (most of them), and side by side in the same
//! method where they do not ([`Db::sql`]).
//!
//! Statements are written with SQLite's numbered placeholders (`?1`, `?2`, …); on
//! PostgreSQL they become `$1`, `$2`, …. Values cross as [`Value`]s: integers, reals,
//! text, bytes or NULL, as SQLite stores them. Flags are stored as integers 0/1 on both
//! backends, so the same `removed = 0` works on both.

use super::pg;
pub(crate) use super::value::{params, FromValue, Row, ToValue, Value};
use super::StoreError;

/// Which engine a [`Db`] talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Engine {
    Sqlite,
    Postgres,
}

/// One connection, for the length of one store call.
pub(crate) enum Db<'a> {
    Sqlite(&'a mut rusqlite::Connection),
    Postgres(&'a mut pg::Conn),
}

impl Db<'_> {
    pub(crate) fn engine(&self) -> Engine {
        match self {
            Db::Sqlite(_) => Engine::Sqlite,
            Db::Postgres(_) => Engine::Postgres,
        }
    }

    /// The statement for this engine, where the two differ: both side by side.
    pub(crate) fn sql<'s>(&self, sqlite: &'s str, postgres: &'s str) -> &'s str {
        match self.engine() {
            Engine::Sqlite => sqlite,
            Engine::Postgres => postgres,
        }
    }

    /// Run a statement; how many rows it changed.
    pub(crate) fn execute(&mut self, sql: &str, params: &[Value]) -> Result<u64, StoreError> {
        match self {
            Db::Sqlite(c) => {
                let mut st = c.prepare_cached(sql)?;
                Ok(st.execute(rusqlite::params_from_iter(params.iter()))? as u64)
            }
            Db::Postgres(c) => c.execute(sql, params),
        }
    }

    /// Every row of a query.
    pub(crate) fn query(&mut self, sql: &str, params: &[Value]) -> Result<Vec<Row>, StoreError> {
        match self {
            Db::Sqlite(c) => {
                let mut st = c.prepare_cached(sql)?;
                let n = st.column_count();
                let mut rows = st.query(rusqlite::params_from_iter(params.iter()))?;
                let mut out = Vec::new();
                while let Some(r) = rows.next()? {
                    let mut vals = Vec::with_capacity(n);
                    for i in 0..n {
                        vals.push(sqlite_value(r.get_ref(i)?));
                    }
                    out.push(Row(vals));
                }
                Ok(out)
            }
            Db::Postgres(c) => c.query(sql, params),
        }
    }

    /// The first row of a query, if any.
    pub(crate) fn query_opt(
        &mut self,
        sql: &str,
        params: &[Value],
    ) -> Result<Option<Row>, StoreError> {
        Ok(self.query(sql, params)?.into_iter().next())
    }

    /// The first row of a query, which must be there.
    pub(crate) fn query_row(&mut self, sql: &str, params: &[Value]) -> Result<Row, StoreError> {
        self.query_opt(sql, params)?.ok_or(StoreError::NoRow)
    }

    /// Statements without parameters or results (schema changes, transaction control).
    pub(crate) fn batch(&mut self, sql: &str) -> Result<(), StoreError> {
        match self {
            Db::Sqlite(c) => Ok(c.execute_batch(sql)?),
            Db::Postgres(c) => c.batch(sql),
        }
    }

    /// Run `f` in one transaction: committed when it returns `Ok`, rolled back otherwise.
    pub(crate) fn transaction<T>(
        &mut self,
        f: impl FnOnce(&mut Db<'_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.batch("BEGIN")?;
        match f(self) {
            Ok(v) => {
                self.batch("COMMIT")?;
                Ok(v)
            }
            Err(e) => {
                // The error that matters is the first; a failed rollback leaves the
                // connection to be dropped (PostgreSQL) or rolls back on its own.
                let _ = self.batch("ROLLBACK");
                Err(e)
            }
        }
    }
}

fn sqlite_value(v: rusqlite::types::ValueRef<'_>) -> Value {
    use rusqlite::types::ValueRef;
    match v {
        ValueRef::Null => Value::Null,
        ValueRef::Integer(i) => Value::Int(i),
        ValueRef::Real(f) => Value::Real(f),
        ValueRef::Text(t) => Value::Text(String::from_utf8_lossy(t).into_owned()),
        ValueRef::Blob(b) => Value::Blob(b.to_vec()),
    }
}

impl rusqlite::ToSql for Value {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        use rusqlite::types::{ToSqlOutput, ValueRef};
        Ok(ToSqlOutput::Borrowed(match self {
            Value::Null => ValueRef::Null,
            Value::Int(i) => ValueRef::Integer(*i),
            Value::Real(f) => ValueRef::Real(*f),
            Value::Text(s) => ValueRef::Text(s.as_bytes()),
            Value::Blob(b) => ValueRef::Blob(b),
        }))
    }
}
