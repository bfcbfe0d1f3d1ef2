//! One module per subcommand, each with one `run`; this file only dispatches. Resources open
//! late: only commands that need a runtime build one.

use crate::cli::{Cli, Command, RdsCommand, TlsCommand};
use crate::target::TargetRequest;
use context::Run;

use runtime::block_on;

mod add_user;
mod audit;
mod completions;
mod connect;
pub(crate) mod context;
mod copy;
mod create;
mod diff;
mod doctor;
mod drop;
mod dump;
mod iam_token;
mod loading;
mod migrate;
mod post_crud;
mod rds;
mod reset;
mod runtime;
mod schema;
mod scratch;
mod seed;
mod sessions;
mod setup;
mod snapshot;
mod sync_cognito;
mod tls;
mod update_sg_rule;
mod users;

/// Runs the parsed command line. A write on a protected target is audited: its log line is
/// opened first (an unwritable log refuses the write) and written with the outcome.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    crate::ui::set_verbose(cli.verbose);
    // NOTE: checked before anything connects (or is confirmed, or audited). Commands that
    // never load SQL do not care.
    if !matches!(
        cli.command,
        Command::Completions(_) | Command::Man | Command::Audit(_)
    ) {
        let value = crate::env::var(crate::load::PREPARE_ENV);
        let shapes = crate::load::shapes_wanted(value.as_deref()).map_err(crate::error::usage)?;
        crate::load::allow_shapes(shapes);
    }
    let req = TargetRequest {
        url: cli.target.url,
        prod: cli.target.prod,
        protected: cli.target.protected,
        iam: cli.target.iam,
        password_secret: cli.target.password_secret,
        aws_region: cli.aws.region,
        aws_profile: cli.aws.profile,
    };
    // NOTE: one target for the audit and the command (see context::Run).
    let ctx = Run::new(req);
    // NOTE: `copy` audits itself: its target is --to, not the global target.
    if cli.command.writes() && !matches!(cli.command, Command::Copy(_)) {
        // NOTE: a target that does not resolve fails in the command itself, as it always did.
        if let Some(target) = ctx.target().ok().filter(|t| t.protected) {
            let dir = crate::audit::state_dir(crate::env::var)?;
            let args: Vec<String> = std::env::args().collect();
            crate::audit::begin(&dir, &target, &args)?;
        }
    }
    let result = dispatch(&ctx, cli.command).map_err(tag_app_error);
    let logged = crate::audit::finish(&result);
    result.and(logged)
}

/// Tags an error of the app (`post-crud`, `add-user`, `users`) with its kind: the app's
/// errors are a library API whose variants callers match on, so they carry no kind of their
/// own. An error already tagged keeps its kind.
fn tag_app_error(e: anyhow::Error) -> anyhow::Error {
    if crate::error::kind(&e) != crate::error::ErrorKind::Failed {
        return e;
    }
    let app = e
        .chain()
        .find_map(|c| c.downcast_ref::<crate::app::Error>())
        .map(crate::app::Error::kind);
    match app {
        Some(kind) => crate::error::tag(kind, e),
        None => e,
    }
}

fn dispatch(ctx: &Run, command: Command) -> anyhow::Result<()> {
    match command {
        Command::Connect(a) => connect::run(ctx, a),
        Command::Create(a) => block_on(create::run(ctx, a)),
        Command::Drop(a) => block_on(drop::run(ctx, a)),
        Command::Sessions(a) => block_on(sessions::run(ctx, a)),
        Command::Schema(a) => block_on(schema::run(ctx, a)),
        Command::Seed(a) => block_on(seed::run(ctx, a)),
        Command::Setup(a) => block_on(setup::run(ctx, a)),
        Command::Reset(a) => block_on(reset::run(ctx, a)),
        Command::Doctor(a) => block_on(doctor::run(ctx, a)),
        Command::Tls(TlsCommand::FetchRdsCa(a)) => block_on(tls::fetch_rds_ca(a)),
        Command::UpdateSgRule(a) => block_on(update_sg_rule::run(ctx, a)),
        Command::Rds(RdsCommand::Status(a)) => block_on(rds::status(ctx, a)),
        Command::Rds(RdsCommand::Start(a)) => block_on(rds::start(ctx, a)),
        Command::Rds(RdsCommand::Stop(a)) => block_on(rds::stop(ctx, a)),
        Command::PostCrud(a) => block_on(post_crud::run(ctx, a)),
        Command::AddUser(a) => block_on(add_user::run(ctx, a)),
        Command::Users(a) => block_on(users::run(ctx, a)),
        Command::SyncCognito(a) => block_on(sync_cognito::run(ctx, a)),
        Command::Completions(a) => completions::completions(a),
        Command::Man => completions::man(),
        Command::Audit(a) => audit::run(a),
        Command::Migrate(a) => migrate::run(ctx, a),
        Command::IamToken => block_on(iam_token::run(ctx)),
        Command::Dump(a) => block_on(dump::run(ctx, a)),
        Command::Diff(a) => block_on(diff::run(ctx, a)),
        Command::Copy(a) => block_on(copy::run(ctx, a)),
        Command::Snapshot(a) => snapshot::run(ctx, a),
    }
}

#[cfg(test)]
mod tests {
    use super::tag_app_error;
    use crate::error::exit_code;

    #[test]
    fn app_errors_map_to_the_documented_codes() {
        // README: 2 for input that breaks the app's rules, 1 for a database failure.
        let invalid = anyhow::Error::new(crate::app::Error::InvalidEvent("no attributes".into()));
        assert_eq!(exit_code(&tag_app_error(invalid)), 2);
        let unknown = anyhow::Error::new(crate::app::Error::UnknownHandle {
            handle: "x".into(),
            suggestions: vec![],
        });
        assert_eq!(exit_code(&tag_app_error(unknown)), 1);
        let bad = crate::app::NewActivity::new("", "", "").unwrap_err();
        let bad = anyhow::Error::new(bad).context("posting");
        assert_eq!(exit_code(&tag_app_error(bad)), 2);
        // A kind given deeper wins.
        let refused = crate::error::kinded(crate::error::ErrorKind::Refused, "no");
        assert_eq!(exit_code(&tag_app_error(refused)), 3);
    }
}
