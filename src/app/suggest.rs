//! Unknown handles: finding the closest existing ones to suggest.

use deadpool_postgres::{GenericClient, Pool};

use super::rules::Error;

/// Succeeds when a user has `handle`; else [`Error::UnknownHandle`] with suggestions.
pub async fn require_handle(pool: &Pool, handle: &str) -> Result<(), Error> {
    let client = pool.get().await?;
    let found = client
        .query_opt(
            "SELECT 1 FROM public.users WHERE handle = $1 LIMIT 1",
            &[&handle],
        )
        .await?;
    match found {
        Some(_) => Ok(()),
        None => Err(unknown_handle(&client, handle).await),
    }
}

/// The error for a handle no user has, with the closest existing handles.
pub(super) async fn unknown_handle(client: &impl GenericClient, handle: &str) -> Error {
    // NOTE: a failure to find suggestions must not hide the real error.
    let suggestions = suggest_handles(client, handle).await.unwrap_or_default();
    Error::UnknownHandle {
        handle: handle.to_string(),
        suggestions,
    }
}

/// The existing handles closest to `handle`, best first.
pub async fn suggest_handles(
    client: &impl GenericClient,
    handle: &str,
) -> Result<Vec<String>, Error> {
    let rows = client.query("SELECT handle FROM public.users", &[]).await?;
    let known: Vec<String> = rows.iter().map(|r| r.get(0)).collect();
    Ok(closest_handles(handle, known.iter().map(String::as_str)))
}

/// At most three of `known` that look like `handle` (case-insensitive Jaro-Winkler, with a
/// boost when one contains the other), best first.
pub fn closest_handles<'a>(handle: &str, known: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    let wanted = handle.trim().to_lowercase();
    if wanted.is_empty() {
        return Vec::new();
    }
    let mut scored: Vec<(f64, &str)> = known
        .into_iter()
        .filter_map(|k| {
            let lower = k.to_lowercase();
            let mut score = strsim::jaro_winkler(&wanted, &lower);
            if lower.contains(&wanted) || wanted.contains(&lower) {
                score = score.max(0.85);
            }
            (score >= 0.75).then_some((score, k))
        })
        .collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| a.1.cmp(b.1)));
    scored
        .into_iter()
        .take(3)
        .map(|(_, k)| k.to_string())
        .collect()
}
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggestions_are_close_handles() {
        let known = ["andrewbrown", "bayko", "londo"];
        assert_eq!(closest_handles("andrewbrwn", known), ["andrewbrown"]);
        assert_eq!(closest_handles("AndrewBrown", known), ["andrewbrown"]);
        assert_eq!(closest_handles("andrew", known), ["andrewbrown"]);
        assert_eq!(closest_handles("bayco", known), ["bayko"]);
        assert!(closest_handles("zzzzqq", known).is_empty());
        assert!(closest_handles("", known).is_empty());
    }

    #[test]
    fn unknown_handle_message_names_suggestions() {
        let e = Error::UnknownHandle {
            handle: "andrw".into(),
            suggestions: vec!["andrewbrown".into()],
        };
        assert!(
            e.to_string().contains("did you mean \"andrewbrown\"?"),
            "{e}"
        );
        let e = Error::UnknownHandle {
            handle: "q".into(),
            suggestions: vec![],
        };
        assert!(e.to_string().contains("cruddur-db users"), "{e}");
    }
}
