//! The command line: `Cli` is the one entry point; the flags live beside it, one file per
//! group of subcommands (`target`: shared flags; `lifecycle`, `aws`, `migrate`, `app`,
//! `copy`). A `///` on each field is its help text.

use clap::{Parser, Subcommand};

mod app;
mod aws;
mod copy;
mod lifecycle;
mod migrate;
mod schema;
mod snapshot;
mod target;

pub use app::*;
pub use aws::*;
pub use copy::*;
pub use lifecycle::*;
pub use migrate::*;
pub use schema::*;
pub use snapshot::*;
pub use target::*;

/// What `--version` prints after the name: the version, the commit it was built from and the
/// target triple (build.rs), so that a bug report names the exact binary.
pub const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (commit ",
    env!("CRUDDUR_DB_COMMIT"),
    ", ",
    env!("CRUDDUR_DB_TARGET"),
    ")"
);

/// The Cruddur database tool: local and production PostgreSQL, SQL files, RDS access.
#[derive(Debug, Parser)]
#[command(
    name = "cruddur-db",
    version = VERSION,
    propagate_version = true,
    max_term_width = 100
)]
pub struct Cli {
    #[command(flatten)]
    pub target: TargetArgs,

    #[command(flatten)]
    pub aws: AwsArgs,

    /// Show every step of work done on the side (the setup of a scratch database: created,
    /// loaded, migrated, dropped), not just one line for it
    #[arg(long, global = true)]
    pub verbose: bool,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Open psql on the target database (read-only on a protected target unless --write)
    Connect(ConnectArgs),
    /// Create the target database; succeeds with a note when it exists
    Create(CreateArgs),
    /// Drop the target database (IF EXISTS); --force ends other sessions first
    Drop(DropArgs),
    /// List the sessions connected to the target database
    Sessions(SessionsArgs),
    /// Load the schema (sql/schema.sql, built in) or FILE into the target database
    Schema(LoadArgs),
    /// Load the seed data (sql/seed.sql, built in) or FILE into the target database
    Seed(LoadArgs),
    /// Create the database if missing, then load schema and seed, all on the one target
    Setup(SetupArgs),
    /// Drop the database, then setup
    Reset(ResetArgs),
    /// Check every step from URL to schema and say which one fails
    Doctor(DoctorArgs),
    /// TLS helpers
    #[command(subcommand)]
    Tls(TlsCommand),
    /// Allow this workstation's public IP on the RDS security group rule
    UpdateSgRule(UpdateSgRuleArgs),
    /// Status, start and stop of the RDS instance
    #[command(subcommand)]
    Rds(RdsCommand),
    /// Post an activity ("crud") as a user
    PostCrud(PostCrudArgs),
    /// Add a user, as the Cognito post-confirmation Lambda did
    AddUser(AddUserArgs),
    /// List users with their number of activities
    Users(UsersArgs),
    /// Database migrations: new, up (the default), down, status, lint
    Migrate(MigrateArgs),
    /// Set users' Cognito ids from the user pool (handle = preferred_username, cognito_user_id = sub)
    SyncCognito(SyncCognitoArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell) on stdout
    Completions(CompletionsArgs),
    /// Print the manual page (roff) on stdout
    Man,
    /// Print an RDS IAM authentication token for the target's host, port and user on stdout
    /// (as `aws rds generate-db-auth-token`); valid for 15 minutes
    IamToken,
    /// Show the audit log of writes on protected targets
    Audit(AuditArgs),
    /// Write the target's schema as SQL that loads into an empty database (read-only; no
    /// pg_dump needed, so no version mismatch with RDS)
    Dump(DumpArgs),
    /// Show what differs between two schemas (local, prod, setup, a URL or a .sql file);
    /// --sql prints the statements that turn FROM into TO
    Diff(DiffArgs),
    /// Copy the data of one database into another (e.g. prod to local) in one consistent
    /// snapshot, masked: no real email, name or Cognito id leaves the source
    Copy(CopyArgs),
    /// Local snapshots of the target database on its own server: save, restore, list, drop,
    /// and a git hook that follows branches
    #[command(subcommand)]
    Snapshot(SnapshotCommand),
}

impl Command {
    /// Whether the command writes to the target database (a dry run does not): such a
    /// command on a protected target leaves a line in the audit log.
    pub fn writes(&self) -> bool {
        match self {
            Command::Drop(a) => !a.confirm.dry_run,
            Command::Schema(a) | Command::Seed(a) => !a.confirm.dry_run,
            Command::Setup(a) => !a.confirm.dry_run,
            Command::Reset(a) => !a.setup.confirm.dry_run,
            Command::PostCrud(a) => !a.confirm.dry_run,
            Command::AddUser(a) => !a.confirm.dry_run,
            Command::Connect(a) => a.write && !a.confirm.dry_run,
            Command::SyncCognito(a) => !a.confirm.dry_run,
            Command::Copy(a) => !a.confirm.dry_run,
            Command::Migrate(a) => match &a.command {
                None => !a.up.run.confirm.dry_run,
                Some(MigrateCommand::Up(u)) => !u.run.confirm.dry_run,
                Some(MigrateCommand::Down(d)) => !d.run.confirm.dry_run,
                Some(MigrateCommand::Mark(m)) => !m.confirm.dry_run,
                Some(
                    MigrateCommand::New(_) | MigrateCommand::Status(_) | MigrateCommand::Lint(_),
                ) => false,
            },
            Command::Create(_)
            | Command::Sessions(_)
            | Command::Doctor(_)
            | Command::Tls(_)
            | Command::UpdateSgRule(_)
            | Command::Rds(_)
            | Command::Users(_)
            | Command::Completions(_)
            | Command::Man
            | Command::Audit(_)
            | Command::Dump(_)
            | Command::Diff(_)
            // NOTE: snapshot refuses protected targets, so it never writes one.
            | Command::Snapshot(_)
            | Command::IamToken => false,
        }
    }
}

/// The command line as parsed: [`Cli`], after [`subcommand_first`].
pub fn parse_from(args: Vec<std::ffi::OsString>) -> Result<Cli, clap::Error> {
    use clap::{CommandFactory, FromArgMatches};
    let mut cmd = Cli::command();
    let args = subcommand_first(args, &cmd);
    let matches = cmd.try_get_matches_from_mut(args)?;
    Cli::from_arg_matches(&matches).map_err(|e| e.format(&mut cmd))
}

/// `migrate --dir db/migrations up` = `migrate up --dir db/migrations`: the flags of
/// `migrate` work on either side of its subcommand, as the target flags do on either side of
/// any subcommand. Bare `migrate` takes up's flags, so clap would refuse a subcommand after
/// them: the subcommand's name is moved to just after `migrate`, and clap then checks that
/// every flag belongs to it. Values are told from flags by asking the command which flags take
/// one.
pub fn subcommand_first(
    args: Vec<std::ffi::OsString>,
    cmd: &clap::Command,
) -> Vec<std::ffi::OsString> {
    let Some(migrate) = cmd.find_subcommand("migrate") else {
        return args;
    };
    let takes_value = |flag: &str| -> bool {
        let all = migrate.get_arguments().chain(cmd.get_arguments());
        let found = all.into_iter().find(|a| match flag.strip_prefix("--") {
            Some(long) => a.get_long() == Some(long),
            None => flag.len() == 2 && a.get_short() == flag.chars().nth(1),
        });
        found.is_some_and(|a| {
            a.get_action().takes_values() && a.get_num_args().is_none_or(|n| n.min_values() > 0)
        })
    };
    let text: Vec<Option<&str>> = args.iter().map(|a| a.to_str()).collect();
    let Some(at) = text
        .iter()
        .skip(1)
        .position(|a| *a == Some("migrate"))
        .map(|i| i + 1)
    else {
        return args;
    };
    let mut i = at + 1;
    while i < text.len() {
        let Some(t) = text[i] else {
            return args;
        };
        if t == "--" {
            return args;
        }
        if t.starts_with('-') {
            if !t.contains('=') && takes_value(t) {
                i += 1;
            }
            i += 1;
            continue;
        }
        let is_sub = migrate.get_subcommands().any(|s| s.get_name() == t) || t == "help";
        if is_sub && i > at + 1 {
            let mut out = args;
            let sub = out.remove(i);
            out.insert(at + 1, sub);
            return out;
        }
        return args;
    }
    args
}

/// Flags whose value is optional, so it must be joined with `=`.
const OPTIONAL_VALUE_FLAGS: &[&str] = &["--wait", "--wait-reachable"];

/// `--wait 5` is read by clap as `--wait` and then a file named `5` (or an unexpected
/// argument). Says "use --wait=5" instead, before parsing. Arguments after `--` are psql's.
pub fn check_spaced_values<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> Result<(), String> {
    let args: Vec<&str> = args
        .iter()
        .map(|a| a.as_ref().to_str().unwrap_or(""))
        .take_while(|a| *a != "--")
        .collect();
    for pair in args.windows(2) {
        if OPTIONAL_VALUE_FLAGS.contains(&pair[0]) && pair[1].parse::<u64>().is_ok() {
            return Err(format!(
                "{flag} takes its value after `=`: use {flag}={value} ({flag} alone waits the \
                 default time)",
                flag = pair[0],
                value = pair[1]
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn target_flags_work_on_either_side() {
        let a = Cli::try_parse_from(["cruddur-db", "--prod", "connect"]).unwrap();
        let b = Cli::try_parse_from(["cruddur-db", "connect", "--prod"]).unwrap();
        assert!(a.target.prod && b.target.prod);
    }

    #[test]
    fn credential_and_aws_flags_are_global() {
        for args in [
            &["cruddur-db", "--iam", "--region", "eu-west-1", "users"][..],
            &["cruddur-db", "users", "--iam", "--region=eu-west-1"][..],
            &[
                "cruddur-db",
                "--region",
                "eu-west-1",
                "rds",
                "status",
                "--iam",
            ][..],
        ] {
            let cli = Cli::try_parse_from(args).unwrap();
            assert!(cli.target.iam, "{args:?}");
            assert_eq!(cli.aws.region.as_deref(), Some("eu-west-1"), "{args:?}");
        }
        let cli = Cli::try_parse_from([
            "cruddur-db",
            "seed",
            "--password-secret",
            "rds!db-1",
            "--profile=bootcamp",
        ])
        .unwrap();
        assert_eq!(cli.target.password_secret.as_deref(), Some("rds!db-1"));
        assert_eq!(cli.aws.profile.as_deref(), Some("bootcamp"));
        let both = Cli::try_parse_from(["cruddur-db", "--iam", "--password-secret", "x", "users"]);
        assert!(both.is_err());
    }

    #[test]
    fn psql_args_after_double_dash() {
        let cli = Cli::try_parse_from(["cruddur-db", "connect", "--", "-c", "select 1"]).unwrap();
        match cli.command {
            Command::Connect(c) => assert_eq!(c.psql_args, ["-c", "select 1"]),
            other => panic!("parsed as {other:?}"),
        }
    }

    /// Regression: `--wait 5` was read as a SQL file named 5.
    #[test]
    fn a_spaced_wait_value_gets_a_hint() {
        let err = check_spaced_values(&["cruddur-db", "schema", "--wait", "5"]).unwrap_err();
        assert!(err.contains("use --wait=5"), "{err}");
        assert!(check_spaced_values(&["cruddur-db", "schema", "--wait=5"]).is_ok());
        assert!(check_spaced_values(&["cruddur-db", "schema", "--wait", "f.sql"]).is_ok());
        assert!(check_spaced_values(&["cruddur-db", "connect", "--", "--wait", "5"]).is_ok());
    }

    #[test]
    fn bare_migrate_is_up_and_takes_the_flags() {
        let cli = Cli::try_parse_from(["cruddur-db", "migrate", "--dry-run", "--lock-timeout=3"])
            .unwrap();
        let Command::Migrate(m) = cli.command else {
            panic!()
        };
        assert!(m.command.is_none() && m.up.run.confirm.dry_run);
        assert_eq!(m.up.run.lock_timeout, 3);
        let cli = Cli::try_parse_from(["cruddur-db", "migrate", "down", "--steps", "2"]).unwrap();
        let Command::Migrate(m) = cli.command else {
            panic!()
        };
        assert!(matches!(m.command, Some(MigrateCommand::Down(d)) if d.steps == 2));
        assert!(Cli::try_parse_from(["cruddur-db", "migrate", "down", "--steps", "0"]).is_err());
    }

    /// Regression: `migrate --dir DIR up` was refused ("'up' cannot be used with '--dir'")
    /// though `migrate --help` lists `--dir` there.
    #[test]
    fn migrate_flags_work_on_either_side_of_the_subcommand() {
        let parse = |a: &[&str]| parse_from(a.iter().map(Into::into).collect());
        for argv in [
            &["cruddur-db", "migrate", "--dir", "db/m", "up"][..],
            &["cruddur-db", "migrate", "up", "--dir", "db/m"],
            &["cruddur-db", "migrate", "--dir=db/m", "up"],
            &["cruddur-db", "--prod", "migrate", "--dir", "db/m", "up"],
        ] {
            let cli = parse(argv).unwrap_or_else(|e| panic!("{argv:?}: {e}"));
            let Command::Migrate(m) = cli.command else {
                panic!()
            };
            assert_eq!(
                m.dir.dir.as_deref(),
                Some(std::path::Path::new("db/m")),
                "{argv:?}"
            );
            assert!(matches!(m.command, Some(MigrateCommand::Up(_))), "{argv:?}");
        }
        // A value that is a subcommand's name stays the value.
        let cli = parse(&["cruddur-db", "migrate", "--dir", "up", "status"]).unwrap();
        let Command::Migrate(m) = cli.command else {
            panic!()
        };
        assert_eq!(m.dir.dir.as_deref(), Some(std::path::Path::new("up")));
        assert!(matches!(m.command, Some(MigrateCommand::Status(_))));
        let cli = parse(&["cruddur-db", "migrate", "--dry-run", "down", "--steps=2"]).unwrap();
        let Command::Migrate(m) = cli.command else {
            panic!()
        };
        assert!(
            matches!(m.command, Some(MigrateCommand::Down(d)) if d.steps == 2 && d.run.confirm.dry_run)
        );
        // A flag the subcommand does not take is still refused.
        assert!(parse(&["cruddur-db", "migrate", "--lock-guard", "status"]).is_err());
        // Bare migrate keeps its flags.
        let cli = parse(&["cruddur-db", "migrate", "--dry-run"]).unwrap();
        assert!(!cli.command.writes());
    }

    /// Regression: `copy --help` listed `--url` and `--prod`, which copy refuses.
    #[test]
    fn copy_help_does_not_offer_the_flags_it_refuses() {
        let mut cmd = Cli::command();
        cmd.build();
        let copy = cmd.find_subcommand("copy").unwrap();
        for id in ["url", "prod"] {
            let a = copy.get_arguments().find(|a| a.get_id() == id).unwrap();
            assert!(a.is_hide_set(), "{id} shows in copy --help");
        }
        let create = cmd.find_subcommand("create").unwrap();
        assert!(create
            .get_arguments()
            .any(|a| a.get_id() == "url" && !a.is_hide_set()));
    }

    #[test]
    fn copy_takes_its_flags_and_writes_unless_a_dry_run() {
        let cli = Cli::try_parse_from([
            "cruddur-db",
            "copy",
            "--from=prod",
            "--to",
            "local",
            "--where",
            "activities: true",
            "--where",
            "users: handle <> 'x'",
            "--limit=activities:5",
        ])
        .unwrap();
        assert!(cli.command.writes());
        let Command::Copy(c) = cli.command else {
            panic!()
        };
        assert_eq!(
            (c.from.as_str(), c.to.as_str(), c.jobs),
            ("prod", "local", None)
        );
        assert_eq!(c.where_.len(), 2);
        let dry = Cli::try_parse_from([
            "cruddur-db",
            "copy",
            "--from=a://",
            "--to=local",
            "--dry-run",
        ]);
        assert!(!dry.unwrap().command.writes());
        for bad in [
            &[
                "cruddur-db",
                "copy",
                "--from=prod",
                "--to=local",
                "--jobs=0",
            ][..],
            &[
                "cruddur-db",
                "copy",
                "--from=prod",
                "--to=local",
                "--no-mask",
                "--mask=m.toml",
            ],
            &["cruddur-db", "copy", "--from=prod"],
        ] {
            assert!(Cli::try_parse_from(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn wait_takes_an_optional_value() {
        let cli = Cli::try_parse_from(["cruddur-db", "create", "--wait"]).unwrap();
        let Command::Create(c) = cli.command else {
            panic!()
        };
        assert_eq!(c.conn.wait, Some(30));
        let cli = Cli::try_parse_from(["cruddur-db", "create", "--wait=5"]).unwrap();
        let Command::Create(c) = cli.command else {
            panic!()
        };
        assert_eq!(c.conn.wait, Some(5));
    }

    #[test]
    fn sync_cognito_takes_the_pool_id_either_way() {
        for args in [
            &[
                "cruddur-db",
                "sync-cognito",
                "--user-pool-id",
                "us-east-1_abc",
            ][..],
            &["cruddur-db", "sync-cognito", "--user-pool-id=us-east-1_abc"],
        ] {
            let cli = Cli::try_parse_from(args).unwrap();
            let Command::SyncCognito(s) = cli.command else {
                panic!()
            };
            assert_eq!(s.cognito.pool_id().unwrap(), "us-east-1_abc");
        }
        let err = CognitoArgs::default().pool_id().unwrap_err();
        assert_eq!(crate::error::exit_code(&err), crate::error::exit::USAGE);
        assert!(format!("{err}").contains("--user-pool-id"), "{err}");
        assert!(
            format!("{err}").contains("AWS_COGNITO_USER_POOL_ID"),
            "{err}"
        );
    }
}
