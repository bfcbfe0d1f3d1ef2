//! `copy --from SOURCE --to TARGET`: the source's data into the target, in one snapshot,
//! masked, in one transaction on the target. Writes on a protected target, and any copy from
//! one, leave a line in the audit log saying what was copied and whether it was masked.

use crate::cli::CopyArgs;
use crate::commands::context::Run;
use crate::copy::mask::MaskFile;
use crate::copy::subset::Filters;
use crate::copy::Request;
use crate::error::usage;
use crate::mask::mask_value;
use crate::target::{Target, TargetRequest};

pub async fn run(ctx: &Run, args: CopyArgs) -> anyhow::Result<()> {
    if ctx.req.url.is_some() || ctx.req.prod || args.refused_url.is_some() || args.refused_prod {
        return Err(usage(
            "copy takes its databases from --from and --to (local, prod or a URL); --url and \
             --prod do not apply to it",
        ));
    }
    let from = side(ctx, &args.from, "--from", false)?;
    let to = side(ctx, &args.to, "--to", ctx.req.protected)?;
    if same_database(&from, &to) {
        return Err(usage(format!(
            "--from and --to are the same database ({}): a copy would empty its own source",
            to.url
        )));
    }
    if args.verbose {
        crate::ui::set_verbose(true);
    }
    let filters = Filters::parse(&args.where_, &args.limit)?;
    let mask = if args.no_mask {
        None
    } else {
        let cwd = std::env::current_dir()?;
        match args.mask.or_else(|| MaskFile::default_path(&cwd)) {
            Some(path) => Some(MaskFile::read(&path)?),
            None => None,
        }
    };
    let confirm = args.confirm.plain();
    if !confirm.dry_run && (to.protected || from.protected) {
        // NOTE: the command's own line, not the generic one of `commands::run`: that one knows
        // only the global target, and a copy FROM production is audited too.
        let audited = if to.protected { &to } else { &from };
        let dir = crate::audit::state_dir(crate::env::var)?;
        let argv: Vec<String> = std::env::args().collect();
        crate::audit::begin(&dir, audited, &argv)?;
        crate::audit::detail(format!(
            "copy from {} to {}: {}",
            from.url,
            to.url,
            match (&mask, args.no_mask) {
                (_, true) => "NOT masked (--no-mask)".to_string(),
                (Some(m), false) => format!(
                    "masked (built-in rules and {})",
                    m.path
                        .as_ref()
                        .map_or_else(String::new, |p| p.display().to_string())
                ),
                (None, false) => "masked (built-in rules)".to_string(),
            }
        ));
    }
    let request = Request {
        from,
        to,
        schema: args.schema,
        mask,
        no_mask: args.no_mask,
        salt: args.mask_salt.unwrap_or_else(random_salt),
        filters,
        jobs: args.jobs.map_or_else(default_jobs, usize::from),
        confirm,
        conn: args.conn.options(),
    };
    crate::copy::run(request).await
}

/// `local`, `prod` or a URL, resolved as every other command resolves its target. `--iam` and
/// `--password-secret` apply to `prod` and to URLs, never to `local`.
fn side(ctx: &Run, spec: &str, flag: &str, protected: bool) -> anyhow::Result<Target> {
    let base = TargetRequest {
        protected,
        aws_region: ctx.req.aws_region.clone(),
        aws_profile: ctx.req.aws_profile.clone(),
        ..TargetRequest::default()
    };
    let with_creds = TargetRequest {
        iam: ctx.req.iam,
        password_secret: ctx.req.password_secret.clone(),
        ..base.clone()
    };
    let resolved = match spec.trim() {
        "local" => base,
        "prod" => TargetRequest {
            prod: true,
            ..with_creds
        },
        url if url.contains("://") => TargetRequest {
            url: Some(url.to_string()),
            ..with_creds
        },
        other => {
            return Err(usage(format!(
                "{flag} {:?}: expected local, prod or a postgresql:// URL",
                mask_value(other)
            )))
        }
    };
    Target::from_env(&resolved).map_err(|e| e.context(format!("{flag} {}", spec_name(spec))))
}

/// How an error names a side: the word, or "URL" (never the URL, which may hold a password).
fn spec_name(spec: &str) -> &str {
    if spec.contains("://") {
        "URL"
    } else {
        spec.trim()
    }
}

/// `--jobs` when not given: the cores this process may use, at most 16 (the flag's limit).
fn default_jobs() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get().min(16))
}

fn same_database(a: &Target, b: &Target) -> bool {
    a.url.host() == b.url.host()
        && a.url.port() == b.url.port()
        && a.url.database() == b.url.database()
}

/// A new salt per run when none is given: hashes match across the tables of one copy, and
/// not across copies.
fn random_salt() -> String {
    use ring::rand::SecureRandom;
    let mut bytes = [0u8; 16];
    if ring::rand::SystemRandom::new().fill(&mut bytes).is_err() {
        // BUG: the system's random source failed; a time-based salt still varies per run.
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        return format!("{nanos:x}");
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
