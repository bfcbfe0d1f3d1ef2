//! SQL files as psql reads them: the lexer and its tokens (`lex`), the statement classifier
//! (`classify`), psql variables (`vars`), meta-commands
//! (`meta`) with psql's argument lexer (`slash`) and `\c`'s forms (`conninfo`), and the
//! reader that streams a file and its includes as statements (`input`).

pub mod classify;
pub mod cond;
pub mod conninfo;
pub mod input;
pub mod item;
pub mod lex;
pub mod meta;
pub mod quote;
pub mod script;
pub mod shape;
pub mod slash;
pub mod vars;
mod words;

pub use conninfo::Server;
pub use input::{Input, Item, Loc, ReadError, Reader, Stats, Stmt};
pub use vars::Vars;
pub use words::{
    changes_parsing, is_copy_from_stdin, is_copy_to_stdout, is_insert, keeps_literal_reading,
    std_strings_setting,
};
