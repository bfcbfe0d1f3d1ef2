//! A script: an input read and checked before anything is written (the first pass over a
//! file and its includes, or stdin read ahead to its first statement). "Prepare" in this
//! project means only the server's PREPARE (the load's shapes).

use super::conninfo::Server;
use super::input::{Reader, Stats};
use super::item::{Input, ReadError};
use super::vars::Vars;

/// A script ready to run: checked by a first pass (files and texts), or read ahead to its
/// first statement (stdin).
pub struct Script {
    pub name: String,
    reader: Reader,
    stats: Option<Stats>,
    has_statements: bool,
}

impl Script {
    /// Reads `input` with the variables `vars` before anything is written. A file or text
    /// is read through once (with its includes, keeping nothing): a refused meta-command, a
    /// missing file or an unset variable fails here. Stdin is read only up to its first
    /// statement. `allow_connect`: whether `\c` may run (only without one transaction).
    pub fn new(input: &Input, vars: &Vars, allow_connect: bool) -> Result<Script, ReadError> {
        Script::new_on(input, vars, allow_connect, None)
    }

    /// [`Script::new`] for a run on `server`, which `\c` is checked against.
    pub fn new_on(
        input: &Input,
        vars: &Vars,
        allow_connect: bool,
        server: Option<&Server>,
    ) -> Result<Script, ReadError> {
        Script::build(input, vars, allow_connect, server, !allow_connect)
    }

    /// [`Script::new`] for a run without a transaction where `\c` is refused all the same
    /// (a `transaction:false` migration): the file's transaction control runs as written.
    pub fn outside_transaction(input: &Input, vars: &Vars) -> Result<Script, ReadError> {
        Script::build(input, vars, false, None, false)
    }

    fn build(
        input: &Input,
        vars: &Vars,
        allow_connect: bool,
        server: Option<&Server>,
        one_transaction: bool,
    ) -> Result<Script, ReadError> {
        let open = || {
            Reader::open(input, vars.clone(), allow_connect).map(|r| {
                let r = r.on_server(server.cloned());
                if one_transaction {
                    r
                } else {
                    r.outside_transaction()
                }
            })
        };
        let stats = match input {
            Input::Stdin => None,
            _ => Some(open()?.survey()?),
        };
        let mut reader = open()?;
        let has_statements = match &stats {
            Some(s) => s.statements > 0,
            None => reader.peek_statement()?,
        };
        Ok(Script {
            name: input.name(),
            reader,
            stats,
            has_statements,
        })
    }

    /// Whether the input holds any statement (for stdin: whether one comes before the end).
    pub fn has_statements(&self) -> bool {
        self.has_statements
    }

    /// What the first pass found (`None` for stdin).
    pub fn stats(&self) -> Option<&Stats> {
        self.stats.as_ref()
    }

    /// The bytes the run will read, when known (for a progress bar).
    pub fn size(&self) -> Option<u64> {
        self.stats.as_ref().map(|s| s.bytes)
    }

    /// The reader for the run.
    pub fn into_reader(self) -> Reader {
        self.reader
    }
}
