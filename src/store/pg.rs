//! The PostgreSQL side of the store: a small pool of tokio-postgres connections.
//!
//! The store's API is synchronous (SQLite's is), and it is called both on tokio's
//! blocking pool and, for a few quick reads, from async code. tokio-postgres' client
//! only talks to its connection task through channels, so the pool runs every
//! connection task on one thread of its own (a current-thread runtime) and a store call
//! waits for the client's answer by parking its own thread ([`block_on`]): that works on
//! any thread, with or without a runtime, as SQLite's mutex does.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Condvar, Mutex};
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

use bytes::BytesMut;
use tokio_postgres::types::{IsNull, ToSql, Type};
use tokio_postgres::{Client, NoTls, Statement};

use super::value::{Row, Value};
use super::StoreError;

/// A PostgreSQL error, as the last cause of a [`StoreError`]: the server's message with
/// its detail, or the client's.
#[derive(Debug)]
pub struct PgError(pub tokio_postgres::Error);

impl std::fmt::Display for PgError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0.as_db_error() {
            Some(db) => {
                write!(f, "{}", db.message())?;
                if let Some(d) = db.detail() {
                    write!(f, " ({d})")?;
                }
                Ok(())
            }
            None => match std::error::Error::source(&self.0) {
                Some(cause) => write!(f, "{}: {cause}", self.0),
                None => self.0.fmt(f),
            },
        }
    }
}

impl std::error::Error for PgError {}

impl From<tokio_postgres::Error> for StoreError {
    fn from(e: tokio_postgres::Error) -> StoreError {
        StoreError::Pg(PgError(e))
    }
}

/// The most connections one store opens.
const MAX_CONNECTIONS: usize = 8;

/// Wait for `fut` on this thread (see the module's notes).
fn block_on<F: Future>(fut: F) -> F::Output {
    struct Unpark(std::thread::Thread);
    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
        fn wake_by_ref(self: &Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    let mut fut = std::pin::pin!(fut);
    loop {
        match fut.as_mut().poll(&mut cx) {
            Poll::Ready(v) => return v,
            Poll::Pending => std::thread::park(),
        }
    }
}

/// One connection with its prepared statements.
pub(crate) struct Conn {
    client: Client,
    statements: HashMap<String, Statement>,
    /// Inside a transaction (BEGIN sent, no COMMIT/ROLLBACK yet).
    in_tx: bool,
}

impl Conn {
    fn statement(&mut self, sql: &str) -> Result<Statement, StoreError> {
        if let Some(st) = self.statements.get(sql) {
            return Ok(st.clone());
        }
        let st = block_on(self.client.prepare(&numbered_to_dollar(sql)))?;
        self.statements.insert(sql.to_string(), st.clone());
        Ok(st)
    }

    pub(crate) fn execute(&mut self, sql: &str, params: &[Value]) -> Result<u64, StoreError> {
        let st = self.statement(sql)?;
        let args: Vec<&(dyn ToSql + Sync)> = params.iter().map(|v| v as _).collect();
        Ok(block_on(self.client.execute(&st, &args))?)
    }

    pub(crate) fn query(&mut self, sql: &str, params: &[Value]) -> Result<Vec<Row>, StoreError> {
        let st = self.statement(sql)?;
        let args: Vec<&(dyn ToSql + Sync)> = params.iter().map(|v| v as _).collect();
        let rows = block_on(self.client.query(&st, &args))?;
        rows.iter().map(row).collect()
    }

    pub(crate) fn batch(&mut self, sql: &str) -> Result<(), StoreError> {
        let word = sql.trim_start().get(..6).unwrap_or("").to_ascii_uppercase();
        block_on(self.client.batch_execute(sql))?;
        if word.starts_with("BEGIN") {
            self.in_tx = true;
        } else if word.starts_with("COMMIT") || word.starts_with("ROLLBA") {
            self.in_tx = false;
        }
        Ok(())
    }
}

fn row(r: &tokio_postgres::Row) -> Result<Row, StoreError> {
    let mut vals = Vec::with_capacity(r.len());
    for (i, col) in r.columns().iter().enumerate() {
        let ty = col.type_();
        let v = if *ty == Type::INT8 {
            r.try_get::<_, Option<i64>>(i)?.map(Value::Int)
        } else if *ty == Type::INT4 {
            r.try_get::<_, Option<i32>>(i)?
                .map(|v| Value::Int(v.into()))
        } else if *ty == Type::INT2 {
            r.try_get::<_, Option<i16>>(i)?
                .map(|v| Value::Int(v.into()))
        } else if *ty == Type::BOOL {
            r.try_get::<_, Option<bool>>(i)?
                .map(|v| Value::Int(v.into()))
        } else if *ty == Type::FLOAT8 {
            r.try_get::<_, Option<f64>>(i)?.map(Value::Real)
        } else if *ty == Type::FLOAT4 {
            r.try_get::<_, Option<f32>>(i)?
                .map(|v| Value::Real(v.into()))
        } else if *ty == Type::BYTEA {
            r.try_get::<_, Option<Vec<u8>>>(i)?.map(Value::Blob)
        } else if [Type::TEXT, Type::VARCHAR, Type::NAME, Type::BPCHAR].contains(ty) {
            r.try_get::<_, Option<String>>(i)?.map(Value::Text)
        } else {
            return Err(StoreError::Decode(format!(
                "column {} has type {ty}, which the store does not read",
                col.name()
            )));
        };
        vals.push(v.unwrap_or(Value::Null));
    }
    Ok(Row(vals))
}

/// A value is sent as the type the server inferred for its placeholder.
impl ToSql for Value {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut BytesMut,
    ) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        match self {
            Value::Null => Ok(IsNull::Yes),
            Value::Int(i) => {
                let i = *i;
                if *ty == Type::INT8 {
                    i.to_sql(ty, out)
                } else if *ty == Type::INT4 {
                    i32::try_from(i)?.to_sql(ty, out)
                } else if *ty == Type::INT2 {
                    i16::try_from(i)?.to_sql(ty, out)
                } else if *ty == Type::BOOL {
                    (i != 0).to_sql(ty, out)
                } else if *ty == Type::FLOAT8 {
                    (i as f64).to_sql(ty, out)
                } else {
                    Err(format!("an integer for a parameter of type {ty}").into())
                }
            }
            Value::Real(f) => {
                if *ty == Type::FLOAT4 {
                    (*f as f32).to_sql(ty, out)
                } else {
                    f.to_sql(ty, out)
                }
            }
            Value::Text(s) => s.as_str().to_sql(ty, out),
            Value::Blob(b) => b.as_slice().to_sql(ty, out),
        }
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    tokio_postgres::types::to_sql_checked!();
}

struct Slots {
    idle: Vec<Conn>,
    open: usize,
}

/// The connections of one store, and the thread that drives them.
pub(crate) struct Pool {
    config: tokio_postgres::Config,
    slots: Mutex<Slots>,
    freed: Condvar,
    driver: tokio::runtime::Handle,
    stop: Mutex<Option<tokio::sync::oneshot::Sender<()>>>,
}

impl Drop for Pool {
    fn drop(&mut self) {
        // The driver thread ends, and with it every connection.
        if let Some(tx) = self.stop.lock().unwrap_or_else(|e| e.into_inner()).take() {
            let _ = tx.send(());
        }
    }
}

impl Pool {
    /// A pool for `url` (no connection is made yet).
    pub(crate) fn new(url: &str) -> Result<Pool, String> {
        let mut config: tokio_postgres::Config = url.parse().map_err(|e| format!("{e}"))?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(Duration::from_secs(10));
        }
        config.application_name("livewatch");
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| format!("cannot start the PostgreSQL client thread: {e}"))?;
        let driver = rt.handle().clone();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        std::thread::Builder::new()
            .name("livewatch-pg".into())
            .spawn(move || {
                rt.block_on(async {
                    let _ = stopped.await;
                });
                rt.shutdown_background();
            })
            .map_err(|e| format!("cannot start the PostgreSQL client thread: {e}"))?;
        Ok(Pool {
            config,
            slots: Mutex::new(Slots {
                idle: Vec::new(),
                open: 0,
            }),
            freed: Condvar::new(),
            driver,
            stop: Mutex::new(Some(stop)),
        })
    }

    fn connect(&self) -> Result<Conn, StoreError> {
        let config = self.config.clone();
        let (tx, rx) = std::sync::mpsc::channel();
        self.driver.spawn(async move {
            match config.connect(NoTls).await {
                Ok((client, connection)) => {
                    let _ = tx.send(Ok(client));
                    if let Err(e) = connection.await {
                        tracing::debug!("PostgreSQL connection closed: {e}");
                    }
                }
                Err(e) => {
                    let _ = tx.send(Err(e));
                }
            }
        });
        let client = rx
            .recv()
            .map_err(|_| StoreError::Task("the PostgreSQL client thread stopped".into()))??;
        Ok(Conn {
            client,
            statements: HashMap::new(),
            in_tx: false,
        })
    }

    /// Run `f` with one connection of the pool (opened when none is free and fewer than
    /// [`MAX_CONNECTIONS`] are open; else wait for one).
    pub(crate) fn with<T>(
        &self,
        f: impl FnOnce(&mut Conn) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut conn = {
            let mut slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
            loop {
                if let Some(c) = slots.idle.pop() {
                    break Some(c);
                }
                if slots.open < MAX_CONNECTIONS {
                    slots.open += 1;
                    break None;
                }
                slots = self.freed.wait(slots).unwrap_or_else(|e| e.into_inner());
            }
        };
        let c = match conn.take() {
            Some(c) => c,
            None => match self.connect() {
                Ok(c) => c,
                Err(e) => {
                    self.give_back(None);
                    return Err(e);
                }
            },
        };
        // Given back however `f` ends (a panic included: the slot is freed).
        struct Lent<'p> {
            pool: &'p Pool,
            conn: Option<Conn>,
        }
        impl Drop for Lent<'_> {
            fn drop(&mut self) {
                // A connection that broke, or that is left inside a transaction, is not
                // reused.
                let c = self
                    .conn
                    .take()
                    .filter(|c| !c.client.is_closed() && !c.in_tx && !std::thread::panicking());
                self.pool.give_back(c);
            }
        }
        let mut lent = Lent {
            pool: self,
            conn: Some(c),
        };
        f(lent.conn.as_mut().expect("the lent connection"))
    }

    fn give_back(&self, c: Option<Conn>) {
        let mut slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        match c {
            Some(c) => slots.idle.push(c),
            None => slots.open -= 1,
        }
        self.freed.notify_one();
    }
}

/// `url` with its password left out, for messages and `Store::path`.
pub(crate) fn redacted(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(None);
            u.to_string()
        }
        _ => url.to_string(),
    }
}

/// `?1` → `$1` (PostgreSQL's placeholders), outside quoted text.
pub(crate) fn numbered_to_dollar(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut quote: Option<char> = None;
    for ch in sql.chars() {
        match quote {
            Some(q) => {
                if ch == q {
                    quote = None;
                }
                out.push(ch);
            }
            None => match ch {
                '\'' | '"' => {
                    quote = Some(ch);
                    out.push(ch);
                }
                '?' => out.push('$'),
                _ => out.push(ch),
            },
        }
    }
    out
}

#[cfg(test)]
mod dollar_tests {
    use super::*;

    #[test]
    fn placeholders_become_dollars_outside_quotes() {
        assert_eq!(
            numbered_to_dollar("SELECT '?1', ?1, \"a?\" FROM t WHERE x = ?12"),
            "SELECT '?1', $1, \"a?\" FROM t WHERE x = $12"
        );
    }
}
