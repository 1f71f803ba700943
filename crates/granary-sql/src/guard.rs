//! What SQL granary agrees to plan (`docs/security.md`): every statement is parsed first with
//! a recursion limit, and its expressions may nest at most [`MAX_EXPR_DEPTH`] deep, so a hostile
//! or generated query is an error, never a stack overflow in the planner. Where SQL only
//! selects (a pipeline's transforms, a combine's selection) it must be a query: `COPY`,
//! `CREATE`, `INSERT` and the like are refused before anything runs.

use std::ops::ControlFlow;

use datafusion::sql::parser::{DFParserBuilder, Statement as DfStatement};
use datafusion::sql::sqlparser::ast::{Expr, Statement, Visit, Visitor};

use crate::SqlError;

/// How deep expressions may nest (`1+1+…` counts one level per operator).
pub const MAX_EXPR_DEPTH: usize = 256;
/// The longest SQL text granary parses.
pub const MAX_SQL_BYTES: usize = 1 << 20;
/// The stack of the thread that parses and checks (and drops) a statement: parsing is
/// bounded, but a parsed chain of 100,000 operators is a tree that deep, and dropping it
/// recurses. 1 MiB of text cannot nest deeper than this stack holds.
/// The parser's recursion limit (nested sub-queries, parentheses).
const PARSER_RECURSION_LIMIT: usize = 64;

/// What a statement may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Queries only (`SELECT`, `WITH`, `VALUES`).
    ReadOnly,
    /// Anything DataFusion runs (the user's own `granary sql` session).
    Any,
}

struct Depth {
    current: usize,
}

impl Visitor for Depth {
    type Break = ();

    fn pre_visit_expr(&mut self, _: &Expr) -> ControlFlow<()> {
        self.current += 1;
        if self.current > MAX_EXPR_DEPTH {
            return ControlFlow::Break(());
        }
        ControlFlow::Continue(())
    }

    fn post_visit_expr(&mut self, _: &Expr) -> ControlFlow<()> {
        self.current -= 1;
        ControlFlow::Continue(())
    }
}

fn kind(s: &DfStatement) -> String {
    let text = s.to_string();
    text.split_whitespace()
        .take(2)
        .collect::<Vec<_>>()
        .join(" ")
        .chars()
        .take(40)
        .collect()
}

const CHECK_STACK_BYTES: usize = 512 << 20;

/// Checks every statement of `sql`: at most [`MAX_SQL_BYTES`], parseable within the limits,
/// expressions not too deep, and with [`Access::ReadOnly`] nothing but queries. Runs on its own
/// thread with a large stack (reserved, not committed, until used).
pub fn check_sql(sql: &str, access: Access) -> Result<(), SqlError> {
    if sql.len() > MAX_SQL_BYTES {
        return Err(SqlError::TooLong {
            bytes: sql.len(),
            limit: MAX_SQL_BYTES,
        });
    }
    std::thread::scope(|s| {
        std::thread::Builder::new()
            .name("granary-sql-check".into())
            .stack_size(CHECK_STACK_BYTES)
            .spawn_scoped(s, || check_on_this_thread(sql, access))
            .map_err(SqlError::CheckThread)?
            .join()
            .unwrap_or_else(|_| {
                Err(SqlError::CheckThread(std::io::Error::other(
                    "the SQL check thread failed",
                )))
            })
    })
}

fn check_on_this_thread(sql: &str, access: Access) -> Result<(), SqlError> {
    let statements = DFParserBuilder::new(sql)
        .with_recursion_limit(PARSER_RECURSION_LIMIT)
        .build()?
        .parse_statements()?;
    for s in &statements {
        if let DfStatement::Statement(inner) = s {
            let mut depth = Depth { current: 0 };
            if inner.visit(&mut depth).is_break() {
                return Err(SqlError::TooDeep {
                    limit: MAX_EXPR_DEPTH,
                });
            }
        }
        let is_query =
            matches!(s, DfStatement::Statement(inner) if matches!(**inner, Statement::Query(_)));
        if access == Access::ReadOnly && !is_query {
            return Err(SqlError::NotAQuery { statement: kind(s) });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_pass_and_writes_are_refused_where_only_reading_is_allowed() {
        check_sql(
            "SELECT url FROM granules WHERE dims['x'] = 1",
            Access::ReadOnly,
        )
        .unwrap();
        check_sql("WITH a AS (SELECT 1) SELECT * FROM a", Access::ReadOnly).unwrap();
        for s in [
            "COPY (SELECT 1) TO '/tmp/x.csv'",
            "CREATE EXTERNAL TABLE t STORED AS CSV LOCATION '/etc/passwd'",
            "INSERT INTO t VALUES (1)",
            "CREATE TABLE t AS SELECT 1",
            "DROP TABLE granules",
            "SELECT 1; COPY (SELECT 1) TO '/tmp/x.csv'",
        ] {
            let e = check_sql(s, Access::ReadOnly).unwrap_err();
            assert!(matches!(e, SqlError::NotAQuery { .. }), "{s}: {e}");
        }
        check_sql("CREATE TABLE t AS SELECT 1", Access::Any).unwrap();
    }

    #[test]
    fn deep_expressions_are_errors_not_stack_overflows() {
        for n in [1_000, 5_000, 50_000, 400_000] {
            let sql = format!("SELECT 1{}", "+1".repeat(n));
            let e = check_sql(&sql, Access::Any).unwrap_err();
            assert!(matches!(e, SqlError::TooDeep { .. }), "{n}: {e}");
        }
        let nested = format!("SELECT {}1{}", "(".repeat(5_000), ")".repeat(5_000));
        assert!(check_sql(&nested, Access::Any).is_err());
        check_sql(&format!("SELECT 1{}", "+1".repeat(100)), Access::Any).unwrap();
        let long = format!("SELECT 1{}", "+1".repeat(MAX_SQL_BYTES));
        assert!(matches!(
            check_sql(&long, Access::Any),
            Err(SqlError::TooLong { .. })
        ));
    }
}
