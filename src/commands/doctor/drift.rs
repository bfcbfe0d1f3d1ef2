//! Doctor's drift note: the target's schema against what `setup` builds from the current
//! checkout. Informational: schema drift never fails doctor on its own.

use std::sync::Arc;
use std::time::Duration;

use crate::catalog::{self, Sides};
use crate::commands::context::Run;
use crate::pg::ConnectOptions;
use crate::target::TargetRequest;

/// How many differences there are from `setup` to the target, and the first few of them.
#[derive(Debug, Clone)]
pub struct Drift {
    pub count: usize,
    pub first: Vec<String>,
    /// Objects on either side the reader cannot compare.
    pub not_compared: Vec<String>,
}

impl Drift {
    /// The drift of `diff` (from `setup` to the target), keeping the first `show` differences.
    fn of(diff: catalog::Diff, show: usize) -> Drift {
        Drift {
            count: diff.differences.len(),
            first: diff
                .differences
                .iter()
                .take(show)
                .map(|x| x.to_string())
                .collect(),
            not_compared: diff.not_compared,
        }
    }

    /// Lines for doctor: the count, then the first differences indented.
    pub fn lines(&self) -> Vec<String> {
        let unread = (!self.not_compared.is_empty()).then(|| {
            format!(
                "schema drift: {} object(s) not compared (the catalog reader cannot read them: {})",
                self.not_compared.len(),
                self.not_compared.join(", ")
            )
        });
        if self.count == 0 {
            return vec![unread.unwrap_or_else(|| {
                "schema drift: none (the target has the schema setup builds)".into()
            })];
        }
        let mut lines = vec![format!(
            "schema drift: {} difference(s) from setup to the target (`cruddur-db diff setup \
             local` shows them all)",
            self.count
        )];
        lines.extend(self.first.iter().map(|l| format!("    {l}")));
        lines.extend(unread);
        lines
    }
}

/// Doctor's drift step, when `show`: the drift (or why it was not checked) on stderr.
pub async fn print(ctx: &Run, timeout: Duration, show: bool) {
    if show {
        for line in lines(ctx, timeout).await {
            crate::ui::status(&line);
        }
    }
}

/// Doctor's drift step as lines: the drift, or why it was not checked. The `setup` side is
/// built in a scratch database on the local server.
async fn lines(ctx: &Run, timeout: Duration) -> Vec<String> {
    let conn = ConnectOptions {
        connect_timeout: timeout,
        ..ConnectOptions::default()
    };
    let sides = Sides {
        request: TargetRequest::default(),
        scratch_url: None,
        conn,
        maker: Arc::new(super::super::scratch::Lifecycle),
    };
    let result = async {
        let target = ctx.target()?;
        catalog::drift(&sides, &target).await
    }
    .await;
    match result {
        Ok(d) => Drift::of(d, 5).lines(),
        Err(e) => vec![format!("schema drift: not checked: {e:#}")],
    }
}

#[cfg(test)]
mod tests {
    use super::Drift;

    /// Regression: doctor said "drift: none" when the target held objects the reader cannot
    /// compare.
    #[test]
    fn drift_says_what_was_not_compared_instead_of_none() {
        let unread = Drift {
            count: 0,
            first: vec![],
            not_compared: vec!["aggregate public.group_concat(pg_catalog.text)".into()],
        };
        let lines = unread.lines();
        assert_eq!(lines.len(), 1);
        assert!(lines[0].contains("1 object(s) not compared"), "{lines:?}");
        assert!(!lines[0].contains("none"), "{lines:?}");
        let none = Drift {
            count: 0,
            first: vec![],
            not_compared: vec![],
        };
        assert!(none.lines()[0].contains("none"));
        let both = Drift {
            count: 2,
            first: vec!["a".into()],
            not_compared: vec!["x".into()],
        };
        let lines = both.lines();
        assert!(lines[0].contains("2 difference(s)"));
        assert!(lines.last().unwrap().contains("not compared"), "{lines:?}");
    }
}
