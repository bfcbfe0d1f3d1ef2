//! One file being read in chunks: its bytes, where it is, and its place in the include chain.

use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::super::item::{chars, Loc, Problem, ReadError};

/// Bytes read from a file at a time (more when one statement is longer).
const READ_CHUNK: usize = 256 * 1024;

/// One file being read.
pub(super) struct Frame {
    pub(super) name: Arc<str>,
    pub(super) chain: Arc<[String]>,
    /// The canonical path, to find include cycles.
    pub(super) canon: Option<PathBuf>,
    /// The directory `\ir` resolves from (the current directory when `None`).
    pub(super) dir: Option<PathBuf>,
    pub(super) input: Box<dyn Read + Send>,
    pub(super) buf: Vec<u8>,
    pub(super) pos: usize,
    pub(super) eof: bool,
    /// Line (1-based) and characters into the line at `pos`.
    pub(super) line: usize,
    pub(super) col: usize,
    /// Whether the start was checked for a byte order mark.
    pub(super) bom_checked: bool,
}

impl Frame {
    pub(super) fn new(
        name: String,
        chain: Arc<[String]>,
        path: Option<&Path>,
        input: Box<dyn Read + Send>,
    ) -> Frame {
        Frame {
            name: name.into(),
            chain,
            canon: path.and_then(|p| p.canonicalize().ok()),
            dir: path.map(|p| p.parent().unwrap_or(Path::new("")).to_path_buf()),
            input,
            buf: Vec::new(),
            pos: 0,
            eof: false,
            line: 1,
            col: 0,
            bom_checked: false,
        }
    }

    pub(super) fn loc(&self) -> Loc {
        Loc {
            file: self.name.clone(),
            line: self.line,
            column: self.col + 1,
            chain: self.chain.clone(),
        }
    }

    pub(super) fn loc_at(&self, at: usize) -> Loc {
        let text = String::from_utf8_lossy(&self.buf[self.pos..at]);
        self.loc().advanced(&text, text.len())
    }

    /// Reads more: at least as much as the window holds, so rescanning stays linear.
    pub(super) fn fill(&mut self) -> Result<(), ReadError> {
        if self.pos > 0 {
            self.buf.drain(..self.pos);
            self.pos = 0;
        }
        let want = READ_CHUNK.max(self.buf.len());
        let start = self.buf.len();
        self.buf.resize(start + want, 0);
        let mut got = 0;
        while got < want {
            match self.input.read(&mut self.buf[start + got..]) {
                Ok(0) => {
                    self.eof = true;
                    break;
                }
                Ok(n) => got += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    self.buf.truncate(start + got);
                    return Err(ReadError {
                        loc: self.loc(),
                        message: format!("failed to read {}: {e}", self.name),
                        problem: Problem::Io,
                    });
                }
            }
        }
        self.buf.truncate(start + got);
        if !self.bom_checked && (self.buf.len() >= 3 || self.eof) {
            self.bom_checked = true;
            // NOTE: psql skips a UTF-8 byte order mark at the start of every file it reads.
            if self.buf[self.pos..].starts_with(b"\xEF\xBB\xBF") {
                self.pos += 3;
            }
        }
        Ok(())
    }

    /// Moves `pos` to `to`, keeping the line and column.
    pub(super) fn advance(&mut self, to: usize) -> u64 {
        let seg = &self.buf[self.pos..to];
        match memchr::memrchr(b'\n', seg) {
            Some(last) => {
                self.line += memchr::memchr_iter(b'\n', seg).count();
                self.col = chars(&seg[last + 1..]);
            }
            None => self.col += chars(seg),
        }
        let n = (to - self.pos) as u64;
        self.pos = to;
        n
    }

    pub(super) fn utf8(&self, range: std::ops::Range<usize>) -> Result<&str, ReadError> {
        std::str::from_utf8(&self.buf[range.clone()]).map_err(|e| ReadError {
            loc: self.loc_at(range.start + e.valid_up_to()),
            message: "invalid UTF-8 (cruddur-db reads SQL files as UTF-8; convert the file with \
                      `iconv -f LATIN1 -t UTF-8`)"
                .into(),
            // NOTE: a file that is not UTF-8 is unreadable input (exit 2), not bad SQL.
            problem: Problem::Io,
        })
    }
}

/// Expands a leading `~/` as psql does.
pub(super) fn expand_home(path: &str) -> PathBuf {
    match path.strip_prefix("~/") {
        Some(rest) => dirs::home_dir().unwrap_or_default().join(rest),
        None => PathBuf::from(path),
    }
}
