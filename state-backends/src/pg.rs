//! The `pg` backend: state in PostgreSQL (tokio-postgres). Each workspace is a row of
//! `SCHEMA.states` with a generation that every write compares and increments; journal
//! entries are rows of `SCHEMA.journal`; the lock is a session advisory lock on a
//! connection the holder keeps open, with the holder's record in `SCHEMA.locks`.
//!
//! An advisory lock dies with its connection, so a run killed with SIGKILL never leaves
//! the lock held: the server sees the connection close and releases it. What such a run
//! leaves is its record, which the next holder reports as abandoned.

use std::sync::Arc;

use mlinfra_engine::backend_config::BackendSpec;
use mlinfra_engine::state::{LockInfo, StateError};
use mlinfra_engine::store::{Backend, HeldLock, Stored, TryLock};
use tokio_postgres::{Client, NoTls};

use crate::Rt;

pub struct PgBackend {
    rt: Arc<Rt>,
    client: Arc<Client>,
    conn_str: String,
    schema: String,
    name: String,
}

fn pg_error(action: &'static str, schema: &str, e: tokio_postgres::Error) -> StateError {
    let detail = match e.as_db_error() {
        Some(db) => format!("{}: {}", db.code().code(), db.message()),
        None => crate::error_chain(&e),
    };
    StateError::Io {
        action,
        path: format!("pg schema {schema}").into(),
        source: std::io::Error::other(detail),
    }
}

async fn connect(conn_str: &str, schema: &str) -> Result<Client, StateError> {
    let (client, connection) = tokio_postgres::connect(conn_str, NoTls)
        .await
        .map_err(|e| pg_error("connect to PostgreSQL for", schema, e))?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    Ok(client)
}

/// Whether `s` can be a schema name as written, unquoted.
fn plain_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && s.len() <= 63
}

impl PgBackend {
    pub fn open(spec: &BackendSpec, workspace: &str) -> Result<PgBackend, StateError> {
        let conn_str = spec
            .str("conn_str")
            .map(str::to_string)
            .or_else(|| std::env::var("PG_CONN_STR").ok())
            .ok_or_else(|| StateError::Conflict {
                location: "backend \"pg\"".into(),
                detail: "no connection string: set conn_str in the block or PG_CONN_STR (postgres://USER@HOST/DB or host=… user=… dbname=…)".into(),
            })?;
        let schema = spec
            .str("schema_name")
            .map(str::to_string)
            .or_else(|| std::env::var("PG_SCHEMA_NAME").ok())
            .unwrap_or_else(|| "mlinfra_remote_state".into());
        if !plain_identifier(&schema) {
            return Err(StateError::Conflict {
                location: "backend \"pg\"".into(),
                detail: format!("schema_name \"{schema}\" must be lower-case letters, digits and _ (at most 63), starting with a letter or _"),
            });
        }
        let rt = Arc::new(Rt::new()?);
        let (c, s) = (conn_str.clone(), schema.clone());
        let client = rt.run(async move {
            let client = connect(&c, &s).await?;
            // One creator at a time: concurrent CREATE … IF NOT EXISTS can collide.
            let ddl = format!(
                "BEGIN;
                 SELECT pg_advisory_xact_lock(7263517722);
                 CREATE SCHEMA IF NOT EXISTS {s};
                 CREATE TABLE IF NOT EXISTS {s}.states (name text PRIMARY KEY, data bytea NOT NULL, generation bigint NOT NULL);
                 CREATE TABLE IF NOT EXISTS {s}.journal (name text NOT NULL, base bigint NOT NULL, serial bigint NOT NULL, data bytea NOT NULL, PRIMARY KEY (name, base, serial));
                 CREATE TABLE IF NOT EXISTS {s}.locks (name text PRIMARY KEY, info text NOT NULL);
                 COMMIT;"
            );
            client
                .batch_execute(&ddl)
                .await
                .map_err(|e| pg_error("create the tables of", &s, e))?;
            Ok(client)
        })?;
        Ok(PgBackend {
            rt,
            client: Arc::new(client),
            conn_str,
            schema,
            name: workspace.to_string(),
        })
    }

    fn lock_key(&self) -> String {
        format!("{}/{}", self.schema, self.name)
    }

    fn read_record(&self) -> Result<Option<LockInfo>, StateError> {
        let (client, s, name) = (self.client.clone(), self.schema.clone(), self.name.clone());
        self.rt.run(async move {
            let row = client
                .query_opt(
                    &format!("SELECT info FROM {s}.locks WHERE name = $1"),
                    &[&name],
                )
                .await
                .map_err(|e| pg_error("read the lock record in", &s, e))?;
            Ok(row.and_then(|r| serde_json::from_str::<LockInfo>(&r.get::<_, String>(0)).ok()))
        })
    }

    fn unknown_holder(&self) -> LockInfo {
        LockInfo::unknown("it has not written its record", &self.location())
    }
}

/// The advisory lock's connection, kept open while the lock is held.
struct PgLock {
    rt: Arc<Rt>,
    client: Option<Arc<Client>>,
    schema: String,
    name: String,
    key: String,
    id: String,
}

impl HeldLock for PgLock {
    fn release(&mut self) -> Result<(), StateError> {
        let Some(client) = self.client.take() else {
            return Ok(());
        };
        let (s, name, key, id) = (
            self.schema.clone(),
            self.name.clone(),
            self.key.clone(),
            self.id.clone(),
        );
        self.rt.run(async move {
            client
                .execute(
                    &format!("DELETE FROM {s}.locks WHERE name = $1 AND info::json->>'id' = $2"),
                    &[&name, &id],
                )
                .await
                .map_err(|e| pg_error("remove the lock record in", &s, e))?;
            client
                .execute(
                    "SELECT pg_advisory_unlock(hashtextextended($1, 0))",
                    &[&key],
                )
                .await
                .map_err(|e| pg_error("release the lock in", &s, e))?;
            Ok(())
        })
    }

    fn lost(&self) -> Option<String> {
        self.client
            .as_ref()
            .filter(|c| c.is_closed())
            .map(|_| "the connection that held the lock closed".to_string())
    }
}

impl Backend for PgBackend {
    fn location(&self) -> String {
        format!("pg schema {}, workspace {}", self.schema, self.name)
    }

    fn read(&self) -> Result<Option<Stored>, StateError> {
        let (client, s, name) = (self.client.clone(), self.schema.clone(), self.name.clone());
        self.rt.run(async move {
            let row = client
                .query_opt(
                    &format!("SELECT data, generation FROM {s}.states WHERE name = $1"),
                    &[&name],
                )
                .await
                .map_err(|e| pg_error("read the state in", &s, e))?;
            Ok(row.map(|r| Stored {
                bytes: r.get::<_, Vec<u8>>(0),
                version: r.get::<_, i64>(1).to_string(),
            }))
        })
    }

    fn write(&self, bytes: &[u8], expected: Option<&str>) -> Result<String, StateError> {
        let (client, s, name) = (self.client.clone(), self.schema.clone(), self.name.clone());
        let data = bytes.to_vec();
        let expected: Option<i64> = match expected {
            Some(v) => Some(v.parse().map_err(|_| StateError::Conflict {
                location: self.location(),
                detail: format!("\"{v}\" is not a generation"),
            })?),
            None => None,
        };
        let location = self.location();
        self.rt.run(async move {
            let (sql, generation) = match expected {
                // The compare-and-swap: only over the generation this run read.
                Some(g) => (
                    format!("UPDATE {s}.states SET data = $2, generation = generation + 1 WHERE name = $1 AND generation = $3"),
                    g,
                ),
                None => (
                    format!("INSERT INTO {s}.states (name, data, generation) VALUES ($1, $2, $3::bigint + 1) ON CONFLICT (name) DO NOTHING"),
                    0,
                ),
            };
            let n = client
                .execute(&sql, &[&name, &data, &generation])
                .await
                .map_err(|e| pg_error("write the state in", &s, e))?;
            if n != 1 {
                return Err(StateError::Conflict {
                    location,
                    detail: "another run wrote the state since this run read it".into(),
                });
            }
            Ok((generation + 1).to_string())
        })
    }

    fn try_lock(&self, info: &LockInfo) -> Result<TryLock, StateError> {
        let (conn_str, s, name, key) = (
            self.conn_str.clone(),
            self.schema.clone(),
            self.name.clone(),
            self.lock_key(),
        );
        let record = serde_json::to_string(info).unwrap_or_default();
        let got = self.rt.run(async move {
            let client = connect(&conn_str, &s).await?;
            let locked: bool = client
                .query_one("SELECT pg_try_advisory_lock(hashtextextended($1, 0))", &[&key])
                .await
                .map_err(|e| pg_error("lock the state in", &s, e))?
                .get(0);
            if !locked {
                return Ok(None);
            }
            // A record left by a holder whose connection is gone: it was killed.
            let previous = client
                .query_opt(&format!("SELECT info FROM {s}.locks WHERE name = $1"), &[&name])
                .await
                .map_err(|e| pg_error("read the lock record in", &s, e))?
                .and_then(|r| serde_json::from_str::<LockInfo>(&r.get::<_, String>(0)).ok());
            client
                .execute(
                    &format!("INSERT INTO {s}.locks (name, info) VALUES ($1, $2) ON CONFLICT (name) DO UPDATE SET info = EXCLUDED.info"),
                    &[&name, &record],
                )
                .await
                .map_err(|e| pg_error("write the lock record in", &s, e))?;
            Ok(Some((Arc::new(client), previous)))
        })?;
        match got {
            Some((client, abandoned_by)) => Ok(TryLock::Acquired {
                guard: Box::new(PgLock {
                    rt: Arc::clone(&self.rt),
                    client: Some(client),
                    schema: self.schema.clone(),
                    name: self.name.clone(),
                    key: self.lock_key(),
                    id: info.id.clone(),
                }),
                abandoned_by,
            }),
            None => {
                // The holder writes its record right after locking; give it a moment.
                for _ in 0..20 {
                    if let Some(h) = self.read_record()? {
                        return Ok(TryLock::Held(h));
                    }
                    std::thread::sleep(std::time::Duration::from_millis(50));
                }
                Ok(TryLock::Held(self.unknown_holder()))
            }
        }
    }

    fn lock_holder(&self) -> Result<Option<LockInfo>, StateError> {
        self.read_record()
    }

    fn force_unlock(&self, id: &str) -> Result<LockInfo, StateError> {
        let (conn_str, s, key) = (self.conn_str.clone(), self.schema.clone(), self.lock_key());
        // Held by a live connection: the holder runs, whatever its record says.
        let free = self.rt.run(async move {
            let client = connect(&conn_str, &s).await?;
            let locked: bool = client
                .query_one(
                    "SELECT pg_try_advisory_lock(hashtextextended($1, 0))",
                    &[&key],
                )
                .await
                .map_err(|e| pg_error("lock the state in", &s, e))?
                .get(0);
            Ok(locked)
        })?;
        let record = self.read_record()?;
        if !free {
            return Err(StateError::Locked {
                holder: Box::new(record.unwrap_or_else(|| self.unknown_holder())),
            });
        }
        let info = LockInfo::to_unlock(record, id)?;
        let (client, s, name) = (self.client.clone(), self.schema.clone(), self.name.clone());
        self.rt.run(async move {
            client
                .execute(&format!("DELETE FROM {s}.locks WHERE name = $1"), &[&name])
                .await
                .map_err(|e| pg_error("remove the lock record in", &s, e))?;
            Ok(())
        })?;
        Ok(info)
    }

    fn journal_append(&self, base: u64, serial: u64, bytes: &[u8]) -> Result<(), StateError> {
        let (client, s, name) = (self.client.clone(), self.schema.clone(), self.name.clone());
        let data = bytes.to_vec();
        let location = self.location();
        self.rt.run(async move {
            let n = client
                .execute(
                    &format!("INSERT INTO {s}.journal (name, base, serial, data) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING"),
                    &[&name, &(base as i64), &(serial as i64), &data],
                )
                .await
                .map_err(|e| pg_error("append to the journal in", &s, e))?;
            if n == 1 {
                return Ok(());
            }
            // Our own insert, retried after its answer was lost, counts.
            let row = client
                .query_opt(
                    &format!("SELECT data FROM {s}.journal WHERE name = $1 AND base = $2 AND serial = $3"),
                    &[&name, &(base as i64), &(serial as i64)],
                )
                .await
                .map_err(|e| pg_error("read the journal in", &s, e))?;
            match row {
                Some(r) if r.get::<_, Vec<u8>>(0) == data => Ok(()),
                _ => Err(StateError::Conflict {
                    location,
                    detail: format!("journal entry {serial} exists already: another run wrote it"),
                }),
            }
        })
    }

    fn journal_read(&self, base: u64) -> Result<Vec<Vec<u8>>, StateError> {
        let (client, s, name) = (self.client.clone(), self.schema.clone(), self.name.clone());
        self.rt.run(async move {
            let rows = client
                .query(
                    &format!("SELECT data FROM {s}.journal WHERE name = $1 AND base = $2 ORDER BY serial"),
                    &[&name, &(base as i64)],
                )
                .await
                .map_err(|e| pg_error("read the journal in", &s, e))?;
            Ok(rows.into_iter().map(|r| r.get::<_, Vec<u8>>(0)).collect())
        })
    }

    fn journal_clear(&self) -> Result<(), StateError> {
        let (client, s, name) = (self.client.clone(), self.schema.clone(), self.name.clone());
        self.rt.run(async move {
            client
                .execute(
                    &format!("DELETE FROM {s}.journal WHERE name = $1"),
                    &[&name],
                )
                .await
                .map_err(|e| pg_error("clear the journal in", &s, e))?;
            Ok(())
        })
    }

    fn workspaces(&self) -> Result<Vec<String>, StateError> {
        let (client, s) = (self.client.clone(), self.schema.clone());
        self.rt.run(async move {
            let rows = client
                .query(&format!("SELECT name FROM {s}.states ORDER BY name"), &[])
                .await
                .map_err(|e| pg_error("list the workspaces in", &s, e))?;
            Ok(rows.into_iter().map(|r| r.get::<_, String>(0)).collect())
        })
    }

    fn delete_workspace(&self, name: &str) -> Result<(), StateError> {
        let (client, s, name) = (self.client.clone(), self.schema.clone(), name.to_string());
        self.rt.run(async move {
            for table in ["journal", "locks", "states"] {
                client
                    .execute(
                        &format!("DELETE FROM {s}.{table} WHERE name = $1"),
                        &[&name],
                    )
                    .await
                    .map_err(|e| pg_error("delete the workspace in", &s, e))?;
            }
            Ok(())
        })
    }
}
