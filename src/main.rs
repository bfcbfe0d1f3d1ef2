//! The `cruddur-db` binary: parse, run, print the error once, pick the exit code.

use std::io::Write;
use std::process::ExitCode;

use cruddur_db::error;

fn main() -> ExitCode {
    quiet_broken_pipe();
    // NOTE: before .env is read, for its own errors; crate::env is not captured yet.
    no_color(std::env::var_os("NO_COLOR"));
    // NOTE: .env is read before parsing so that clap's `env` fallbacks see it; it never
    // overrides the real environment. `--no-dotenv` has to be seen before clap runs.
    if !std::env::args_os().any(|a| a == "--no-dotenv") {
        if let Err(err) = cruddur_db::target::load_dotenv() {
            cruddur_db::print_error(&err);
            return ExitCode::from(error::exit::USAGE as u8);
        }
    }
    // NOTE: the environment is read once, with what .env set.
    cruddur_db::env::capture();
    no_color(cruddur_db::env::var_os("NO_COLOR"));
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if let Err(msg) = cruddur_db::cli::check_spaced_values(&args) {
        cruddur_db::print_error(&anyhow::anyhow!(msg));
        return ExitCode::from(error::exit::USAGE as u8);
    }
    let cli = match cruddur_db::cli::parse_from(args) {
        Ok(cli) => cli,
        Err(err) => {
            let code = if err.use_stderr() {
                error::exit::USAGE
            } else {
                0
            };
            let _ = err.print();
            return ExitCode::from(code as u8);
        }
    };
    let code = match cruddur_db::run(cli) {
        Ok(()) => error::exit::OK,
        Err(err) => {
            let code = error::exit_code(&err);
            // NOTE: the reader of stdout went away (`| head -1`): nothing to tell it.
            if code != BROKEN_PIPE {
                cruddur_db::print_error(&err);
            }
            code
        }
    };
    let _ = std::io::stdout().flush();
    ExitCode::from(code as u8)
}

/// `NO_COLOR` (set and not empty) turns colour off.
fn no_color(value: Option<std::ffi::OsString>) {
    cruddur_db::set_colour(value.is_none_or(|v| v.is_empty()));
}

/// The status of a process killed by SIGPIPE (see [`error::exit::BROKEN_PIPE`]).
const BROKEN_PIPE: i32 = error::exit::BROKEN_PIPE;

/// `cruddur-db users | head -1`: stdout is written through `ui::write_out`, whose errors
/// are exit 141 (silent) or 1 (one line). NOTE: a `print!` left anywhere (in a dependency)
/// panics on a failed write; the hook turns that panic into the same exits instead of a
/// panic message and exit 101. SIGPIPE itself stays ignored, so a dropped database or AWS
/// connection is an error to report, not a silent death.
fn quiet_broken_pipe() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let msg = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| info.payload().downcast_ref::<&str>().copied())
            .unwrap_or("");
        if let Some(rest) = msg.strip_prefix("failed printing to stdout") {
            if msg.contains("Broken pipe") {
                std::process::exit(BROKEN_PIPE);
            }
            let _ = writeln!(
                std::io::stderr(),
                "error: failed to write to stdout{}",
                rest.trim_end()
            );
            std::process::exit(error::exit::FAILED);
        }
        default(info);
    }));
}
